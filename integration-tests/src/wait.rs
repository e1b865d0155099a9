//! Waiting on a condition with a deadline.

use std::time::{Duration, Instant};

/// Polls `check` until it returns `Ok`, or panics after `timeout` with `what` and the last `Err` seen.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match check() {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last seen: {last}"
        );
        // The polling interval of a condition wait with a deadline, not a synchronising sleep.
        std::thread::sleep(Duration::from_millis(50));
    }
}
