//! The block cutter: decides when ordered envelopes become a batch (sans-IO; time is an input).
//!
//! Fabric's rules: an envelope larger than `PreferredMaxBytes` is cut alone (after cutting what is pending);
//! an envelope that would take the pending batch over `PreferredMaxBytes` first cuts the pending batch; a
//! batch is cut when it reaches `MaxMessageCount`; and the batch timer, started by the first envelope of a
//! batch, cuts whatever is pending after `BatchTimeout`. `AbsoluteMaxBytes` is enforced at Broadcast.

use std::time::{Duration, Instant};

/// Batch limits from the channel's `Orderer.BatchSize` and `BatchTimeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    pub max_message_count: usize,
    pub preferred_max_bytes: usize,
    pub timeout: Duration,
}

/// What the cutter batches: an envelope, or an envelope with what the chain already knows of it.
pub trait Weighed {
    /// The envelope's size in bytes, for `PreferredMaxBytes`.
    fn bytes(&self) -> usize;
}

impl Weighed for Vec<u8> {
    fn bytes(&self) -> usize {
        self.len()
    }
}

/// Pending envelopes and the batch timer.
#[derive(Debug)]
pub struct BlockCutter<T> {
    config: BatchConfig,
    pending: Vec<T>,
    pending_bytes: usize,
    deadline: Option<Instant>,
}

impl<T: Weighed> BlockCutter<T> {
    pub fn new(config: BatchConfig) -> Self {
        Self {
            config,
            pending: Vec::new(),
            pending_bytes: 0,
            deadline: None,
        }
    }

    /// Applies a new batch configuration (after a config block); pending envelopes stay pending.
    pub fn reconfigure(&mut self, config: BatchConfig) {
        self.config = config;
    }

    /// Adds an envelope received at `now`. Returns the batches cut by it, oldest first (zero, one or two).
    pub fn ordered(&mut self, env: T, now: Instant) -> Vec<Vec<T>> {
        let mut batches = Vec::new();
        let size = env.bytes();
        if size > self.config.preferred_max_bytes {
            batches.extend(self.cut());
            batches.push(vec![env]);
            return batches;
        }
        if self.pending_bytes + size > self.config.preferred_max_bytes {
            batches.extend(self.cut());
        }
        if self.pending.is_empty() {
            self.deadline = Some(now + self.config.timeout);
        }
        self.pending.push(env);
        self.pending_bytes += size;
        if self.pending.len() >= self.config.max_message_count {
            batches.extend(self.cut());
        }
        batches
    }

    /// Cuts whatever is pending, e.g. before a config transaction, which is always a block of its own.
    pub fn cut(&mut self) -> Option<Vec<T>> {
        self.deadline = None;
        self.pending_bytes = 0;
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if a batch is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Cuts the pending batch if its timer has expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Vec<T>> {
        match self.deadline {
            Some(d) if now >= d => self.cut(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutter(count: usize, preferred: usize) -> BlockCutter<Vec<u8>> {
        BlockCutter::new(BatchConfig {
            max_message_count: count,
            preferred_max_bytes: preferred,
            timeout: Duration::from_secs(2),
        })
    }

    #[test]
    fn cuts_at_max_message_count() {
        let mut c = cutter(3, 1000);
        let t = Instant::now();
        assert!(c.ordered(vec![1], t).is_empty());
        assert!(c.ordered(vec![2], t).is_empty());
        assert_eq!(c.ordered(vec![3], t), vec![vec![vec![1], vec![2], vec![3]]]);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn timer_starts_with_the_first_envelope_and_cuts_on_expiry() {
        let mut c = cutter(10, 1000);
        let t0 = Instant::now();
        c.ordered(vec![1], t0);
        c.ordered(vec![2], t0 + Duration::from_secs(1));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(c.handle_timeout(t0 + Duration::from_millis(1999)), None);
        assert_eq!(
            c.handle_timeout(t0 + Duration::from_secs(2)),
            Some(vec![vec![1], vec![2]])
        );
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_timeout(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn preferred_max_bytes_cuts_before_overflow() {
        let mut c = cutter(10, 10);
        let t = Instant::now();
        assert!(c.ordered(vec![0; 6], t).is_empty());
        let batches = c.ordered(vec![1; 6], t);
        assert_eq!(batches, vec![vec![vec![0; 6]]]);
        // The second envelope is now pending with a fresh timer.
        assert_eq!(c.cut(), Some(vec![vec![1; 6]]));
    }

    #[test]
    fn oversized_envelope_goes_alone_after_pending() {
        let mut c = cutter(10, 10);
        let t = Instant::now();
        c.ordered(vec![0; 3], t);
        let batches = c.ordered(vec![9; 11], t);
        assert_eq!(batches, vec![vec![vec![0; 3]], vec![vec![9; 11]]]);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.cut(), None);
    }
}
