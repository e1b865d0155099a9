//! The newest blocks a store appended, kept encoded in memory. Each block the orderer cuts is read at once by
//! every Deliver stream (one per org's leader), and a peer's newest blocks are what its neighbours' state
//! transfer asks for; served from here, none of them reads the block file or copies the block.

use std::collections::VecDeque;

use weft_wire::Bytes;

/// The blocks kept, at most this many bytes of them (the newest block is kept whatever its size).
pub const RECENT_BYTES: usize = 8 << 20;

/// The newest appended blocks, oldest first.
#[derive(Debug, Default)]
pub struct Recent {
    blocks: VecDeque<(u64, Bytes)>,
    bytes: usize,
}

impl Recent {
    /// Keeps block `number`'s bytes, dropping the oldest beyond [`RECENT_BYTES`].
    pub fn push(&mut self, number: u64, block: Bytes) {
        self.bytes += block.len();
        self.blocks.push_back((number, block));
        while self.bytes > RECENT_BYTES && self.blocks.len() > 1 {
            let (_, old) = self.blocks.pop_front().expect("more than one block");
            self.bytes -= old.len();
        }
    }

    /// Block `number`'s bytes, if kept (a reference, not a copy).
    pub fn get(&self, number: u64) -> Option<Bytes> {
        let first = self.blocks.front()?.0;
        let (n, b) = self
            .blocks
            .get(usize::try_from(number.checked_sub(first)?).ok()?)?;
        (*n == number).then(|| b.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_blocks_within_the_bound() {
        let mut r = Recent::default();
        let block = Bytes::from(vec![7; RECENT_BYTES / 4]);
        for n in 10..20 {
            r.push(n, block.clone());
        }
        assert!(r.get(15).is_none(), "older than the bound allows");
        for n in 16..20 {
            assert_eq!(r.get(n).as_deref(), Some(&block[..]));
        }
        assert!(r.get(20).is_none() && r.get(9).is_none());
    }

    #[test]
    fn a_block_larger_than_the_bound_is_still_kept_alone() {
        let mut r = Recent::default();
        r.push(0, Bytes::from(vec![1; 10]));
        r.push(1, Bytes::from(vec![2; RECENT_BYTES + 1]));
        assert!(r.get(0).is_none());
        assert_eq!(r.get(1).map(|b| b.len()), Some(RECENT_BYTES + 1));
    }
}
