//! The append-only file that holds a chain's serialized blocks, as Fabric's block files do; the index (block
//! number → offset and length) lives in sled with the rest of the commit.
//!
//! Why not in sled: sled keeps a value of a few hundred KB as a blob file of its own and rewrites its log
//! around it, so a 300 KB block cost more than 1 MB of writes. Here a block is written once, at the end of
//! the file, with `pwrite`; readers use `pread` and never take a lock.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::LedgerError;

/// The file's name inside a chain's directory.
pub const NAME: &str = "blockfile";

/// Where a block's bytes are in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub offset: u64,
    pub len: u64,
}

impl Location {
    /// The index entry: offset and length, big-endian.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        Some(Self {
            offset: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            len: u64::from_be_bytes(b[8..].try_into().expect("8 bytes")),
        })
    }

    /// Where the next block goes.
    pub fn end(self) -> u64 {
        self.offset + self.len
    }
}

/// One chain's block file. A single writer appends (the store's info lock orders appends).
#[derive(Debug)]
pub struct BlockFile {
    file: File,
    /// The end of the last block written.
    end: AtomicU64,
}

impl BlockFile {
    /// Opens (or creates) the file in `dir`. `indexed_end` is where the last indexed block ends: bytes beyond
    /// it were written by an append whose index never committed, and are cut off. A file shorter than its
    /// index lost blocks the index still names, which is an error.
    pub fn open(dir: &Path, indexed_end: u64) -> Result<Self, LedgerError> {
        let path = dir.join(NAME);
        let io = |e: std::io::Error| LedgerError::Storage(format!("{}: {e}", path.display()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < indexed_end {
            return Err(LedgerError::Corrupt(format!(
                "{} holds {len} bytes but its index names blocks up to byte {indexed_end}",
                path.display()
            )));
        }
        if len > indexed_end {
            file.set_len(indexed_end).map_err(io)?;
        }
        Ok(Self {
            file,
            end: AtomicU64::new(indexed_end),
        })
    }

    /// Writes `bytes` after the last block; the caller indexes the returned location.
    pub fn append(&self, bytes: &[u8]) -> Result<Location, LedgerError> {
        let offset = self.end.load(Ordering::Acquire);
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| LedgerError::Storage(format!("block file write: {e}")))?;
        let at = Location {
            offset,
            len: bytes.len() as u64,
        };
        self.end.store(at.end(), Ordering::Release);
        Ok(at)
    }

    /// Forgets the last append (its index did not commit), so the next one overwrites it.
    pub fn unwind(&self, to: Location) {
        self.end.store(to.offset, Ordering::Release);
    }

    /// Waits until every block written is on disk.
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.file
            .sync_data()
            .map_err(|e| LedgerError::Storage(format!("block file sync: {e}")))
    }

    /// The bytes of the block at `at`.
    pub fn read(&self, at: Location) -> Result<Vec<u8>, LedgerError> {
        let mut buf = vec![0; at.len as usize];
        self.file
            .read_exact_at(&mut buf, at.offset)
            .map_err(|e| LedgerError::Corrupt(format!("block file read at {}: {e}", at.offset)))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = BlockFile::open(dir.path(), 0).unwrap();
        let a = f.append(b"first").unwrap();
        let b = f.append(b"second block").unwrap();
        assert_eq!(a, Location { offset: 0, len: 5 });
        assert_eq!(b.offset, 5);
        f.sync().unwrap();
        drop(f);
        let f = BlockFile::open(dir.path(), b.offset + b.len).unwrap();
        assert_eq!(f.read(a).unwrap(), b"first");
        assert_eq!(f.read(b).unwrap(), b"second block");
        assert_eq!(Location::from_bytes(&b.to_bytes()), Some(b));
    }

    #[test]
    fn bytes_beyond_the_index_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let f = BlockFile::open(dir.path(), 0).unwrap();
        let a = f.append(b"indexed").unwrap();
        f.append(b"never indexed").unwrap();
        drop(f);
        let f = BlockFile::open(dir.path(), a.len).unwrap();
        let c = f.append(b"next").unwrap();
        assert_eq!(c.offset, a.len);
        assert_eq!(
            std::fs::metadata(dir.path().join(NAME)).unwrap().len(),
            a.len + 4
        );
    }

    #[test]
    fn a_file_shorter_than_its_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = BlockFile::open(dir.path(), 0).unwrap();
        f.append(b"abc").unwrap();
        drop(f);
        let err = BlockFile::open(dir.path(), 100).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt(_)), "{err}");
    }

    #[test]
    fn an_unwound_append_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let f = BlockFile::open(dir.path(), 0).unwrap();
        let a = f.append(b"failed").unwrap();
        f.unwind(a);
        let b = f.append(b"ok").unwrap();
        assert_eq!(b.offset, 0);
        assert_eq!(f.read(b).unwrap(), b"ok");
    }
}
