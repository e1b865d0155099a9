//! The append-only file that holds a chain's serialized blocks, as Fabric's block files do; the index (block
//! number → offset and length) lives in sled with the rest of the commit.
//!
//! Each block is one record: a 12-byte header (the lengths of the commit record and of the block, big-endian
//! `u32`s, and the CRC-32 of both), the commit record (what the block changes: its transaction ids, state
//! writes and config, `weft.ledger.CommitRecord`), then the block's bytes. The file alone is enough to rebuild
//! the index and the world state: the store syncs only this file per commit and its sled database now and
//! then, and on opening replays the records that sled has not seen ([`BlockFile::open`]).
//!
//! Why not in sled: sled keeps a value of a few hundred KB as a blob file of its own and rewrites its log
//! around it, so a 300 KB block cost more than 1 MB of writes. Here a block is written once, at the end of
//! the file, with `pwrite`; readers use `pread` and never take a lock.
//!
//! Why zeros ahead of the end: a write that grows a file must change its size and allocate its blocks, which
//! goes through the filesystem's journal; when other writers are syncing (the other nodes of a network on one
//! disk, or sled beside us) that write waits for their journal commit, and our `fdatasync` must commit the
//! journal too. Measured with four other syncing writers, an appending 300 KB `pwrite` took 0.86 ms at p90
//! and a zero-filled region 0.15 ms; `fallocate` does not help (its extents still change at the first
//! write). So a background thread keeps a zeroed, synced region ahead of the last block, sized by the records
//! written (from [`MIN_AHEAD`] to [`MAX_AHEAD`]); appends overwrite it. The zeros are never part of a block:
//! the index says where blocks end, and opening cuts the file there.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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

/// Zeroed space kept ahead of the end at least, and at most.
pub const MIN_AHEAD: u64 = 256 * 1024;
pub const MAX_AHEAD: u64 = 16 * 1024 * 1024;
/// The space kept ahead, in multiples of the largest block appended.
const AHEAD_BLOCKS: u64 = 8;
/// Zeros written at a time, under the lock appends take.
const PIECE: u64 = 256 * 1024;
/// Zeros wait until no block was appended for this long, unless less than a quarter of the space ahead is
/// left: written at once, their writes and syncs reach the disk in the very milliseconds when this node, and
/// the others that receive the same block, sync it.
const QUIET: Duration = Duration::from_millis(20);

/// The record header: commit length, block length, CRC-32 of commit ‖ block.
const HEADER: u64 = 12;

fn crc(commit: &[u8], block: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(commit);
    h.update(block);
    h.finalize()
}

/// One chain's block file. A single writer appends (the store's info lock orders appends).
#[derive(Debug)]
pub struct BlockFile {
    shared: Arc<Shared>,
    zeroer: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    file: File,
    /// Appends and zeroing take turns, so that zeros never land on a block.
    region: Mutex<Region>,
    /// Wakes the zeroer when the space ahead runs low, or at close.
    low: Condvar,
    /// Why a sync failed, if one did.
    failed: Mutex<Option<String>>,
}

#[derive(Debug)]
struct Region {
    /// The end of the last block written.
    end: u64,
    /// Bytes before this offset exist in the file (blocks, then written zeros).
    zeroed_end: u64,
    /// The space to keep ahead of the end (none before the first append).
    ahead: u64,
    /// When the last block was appended.
    appended_at: Option<Instant>,
    closed: bool,
}

impl BlockFile {
    /// Opens (or creates) the file in `dir`. `indexed_end` is where the last indexed block ends. Each complete
    /// record after it (header, lengths and checksum intact) is handed to `unindexed` with its block's
    /// location, commit record and block bytes, in order, until it returns false; the file is cut after the
    /// last record taken. What is cut was written by an append that never completed, or is zeros kept ahead.
    /// A file shorter than its index lost blocks the index still names, which is an error.
    pub fn open(
        dir: &Path,
        indexed_end: u64,
        mut unindexed: impl FnMut(Location, &[u8], &[u8]) -> Result<bool, LedgerError>,
    ) -> Result<Self, LedgerError> {
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
        // Records beyond the index may be only in the page cache (a process that died before its sync): they
        // are made durable before anything is built on them.
        if len > indexed_end {
            file.sync_data().map_err(io)?;
        }
        let mut end = indexed_end;
        while let Some((at, commit, block)) = read_record(&file, end, len) {
            if !unindexed(at, &commit, &block)? {
                break;
            }
            end = at.end();
        }
        if len > end {
            file.set_len(end).map_err(io)?;
        }
        let shared = Arc::new(Shared {
            file,
            region: Mutex::new(Region {
                end,
                zeroed_end: end,
                // Nothing ahead until the first append says how large blocks are.
                ahead: 0,
                appended_at: None,
                closed: false,
            }),
            low: Condvar::new(),
            failed: Mutex::default(),
        });
        let zeroer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("blockfile-zero".into())
                .spawn(move || shared.zero_ahead())
                .map_err(|e| {
                    LedgerError::Storage(format!("starting the block file's zeroer: {e}"))
                })?
        };
        Ok(Self {
            shared,
            zeroer: Some(zeroer),
        })
    }

    /// Writes a record of `commit` and `block` after the last one; the caller indexes the block's location.
    pub fn append(&self, commit: &[u8], block: &[u8]) -> Result<Location, LedgerError> {
        let too_large = || LedgerError::Storage("a block or commit record over 4 GiB".into());
        let mut head = Vec::with_capacity(HEADER as usize + commit.len());
        head.extend_from_slice(
            &u32::try_from(commit.len())
                .map_err(|_| too_large())?
                .to_be_bytes(),
        );
        head.extend_from_slice(
            &u32::try_from(block.len())
                .map_err(|_| too_large())?
                .to_be_bytes(),
        );
        head.extend_from_slice(&crc(commit, block).to_be_bytes());
        head.extend_from_slice(commit);
        let mut region = self.shared.region.lock().expect("block file region lock");
        let start = region.end;
        let write = |bytes: &[u8], at: u64| {
            self.shared
                .file
                .write_all_at(bytes, at)
                .map_err(|e| LedgerError::Storage(format!("block file write: {e}")))
        };
        write(&head, start)?;
        let at = Location {
            offset: start + head.len() as u64,
            len: block.len() as u64,
        };
        write(block, at.offset)?;
        region.end = at.end();
        region.appended_at = Some(Instant::now());
        region.zeroed_end = region.zeroed_end.max(at.end());
        let record = at.end() - start;
        region.ahead = region
            .ahead
            .max((record * AHEAD_BLOCKS).clamp(MIN_AHEAD, MAX_AHEAD));
        if region.zeroed_end - at.end() < region.ahead / 2 {
            self.shared.low.notify_one();
        }
        Ok(at)
    }

    /// Waits until every block written is on disk. Once a sync has failed, every later one fails too: the
    /// kernel may have dropped the pages it could not write, and a later sync that succeeds would not bring
    /// them back.
    pub fn sync(&self) -> Result<(), LedgerError> {
        let mut failed = self.shared.failed.lock().expect("block file sync lock");
        if let Some(e) = failed.as_ref() {
            return Err(LedgerError::Storage(format!(
                "block file sync failed earlier: {e}"
            )));
        }
        self.shared.file.sync_data().map_err(|e| {
            *failed = Some(e.to_string());
            LedgerError::Storage(format!("block file sync: {e}"))
        })
    }

    /// The bytes of the block at `at`.
    pub fn read(&self, at: Location) -> Result<Vec<u8>, LedgerError> {
        let mut buf = vec![0; at.len as usize];
        self.shared
            .file
            .read_exact_at(&mut buf, at.offset)
            .map_err(|e| LedgerError::Corrupt(format!("block file read at {}: {e}", at.offset)))?;
        Ok(buf)
    }

    /// Zeroed bytes ahead of the last block (for tests and operators).
    pub fn zeroed_ahead(&self) -> u64 {
        let region = self.shared.region.lock().expect("block file region lock");
        region.zeroed_end - region.end
    }
}

/// The bytes at `at` in the block file of `dir`, read before opening it (which may cut the file), if the file
/// holds them.
pub fn read_before_open(dir: &Path, at: Location) -> Option<Vec<u8>> {
    let file = File::open(dir.join(NAME)).ok()?;
    let mut buf = vec![0; usize::try_from(at.len).ok()?];
    file.read_exact_at(&mut buf, at.offset).ok()?;
    Some(buf)
}

/// The record at `at`, if the file holds a complete one there (a header of zeros is the space kept ahead).
fn read_record(file: &File, at: u64, len: u64) -> Option<(Location, Vec<u8>, Vec<u8>)> {
    let mut head = [0u8; HEADER as usize];
    if at + HEADER > len || file.read_exact_at(&mut head, at).is_err() {
        return None;
    }
    let commit_len = u64::from(u32::from_be_bytes(head[..4].try_into().expect("4 bytes")));
    let block_len = u64::from(u32::from_be_bytes(head[4..8].try_into().expect("4 bytes")));
    let sum = u32::from_be_bytes(head[8..].try_into().expect("4 bytes"));
    let block_at = at + HEADER + commit_len;
    if block_len == 0 || block_at + block_len > len {
        return None;
    }
    let mut commit = vec![0; commit_len as usize];
    let mut block = vec![0; block_len as usize];
    file.read_exact_at(&mut commit, at + HEADER).ok()?;
    file.read_exact_at(&mut block, block_at).ok()?;
    (crc(&commit, &block) == sum).then_some((
        Location {
            offset: block_at,
            len: block_len,
        },
        commit,
        block,
    ))
}

impl Shared {
    /// The zeroer: whenever the space ahead falls below its target, writes zeros after the end once appends
    /// pause for [`QUIET`] (or at once when little is left), [`PIECE`] at a time under the region lock (an
    /// append waits for one piece at most), and syncs each piece outside it at once: zeros left dirty would
    /// be flushed by the next journal commit of any file on the disk, in the middle of someone's `fdatasync`.
    /// A failure only costs speed: the thread logs it and stops.
    fn zero_ahead(&self) {
        let zeros = vec![0; PIECE as usize];
        let mut region = self.region.lock().expect("block file region lock");
        loop {
            if region.closed {
                return;
            }
            let left = region.zeroed_end - region.end;
            if left >= region.ahead {
                region = self.low.wait(region).expect("block file region lock");
                continue;
            }
            let since = region.appended_at.map_or(QUIET, |t| t.elapsed());
            if left >= region.ahead / 4 && since < QUIET {
                region = self
                    .low
                    .wait_timeout(region, QUIET - since)
                    .expect("block file region lock")
                    .0;
                continue;
            }
            // Appends keep `zeroed_end` at or beyond the end: zeros go after both.
            let at = region.zeroed_end;
            if let Err(e) = self.file.write_all_at(&zeros, at) {
                tracing::warn!(target: "ledger", error = %e, "cannot write zeros ahead of the block file's end; appends stay correct but slower");
                return;
            }
            region.zeroed_end = at + PIECE;
            drop(region);
            if let Err(e) = self.file.sync_data() {
                tracing::warn!(target: "ledger", error = %e, "cannot sync zeros ahead of the block file's end");
                return;
            }
            region = self.region.lock().expect("block file region lock");
        }
    }
}

impl Drop for BlockFile {
    fn drop(&mut self) {
        self.shared
            .region
            .lock()
            .expect("block file region lock")
            .closed = true;
        self.shared.low.notify_one();
        if let Some(z) = self.zeroer.take() {
            let _ = z.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens with nothing to replay expected.
    fn open(dir: &Path, indexed_end: u64) -> Result<BlockFile, LedgerError> {
        BlockFile::open(dir, indexed_end, |_, _, _| panic!("no record expected"))
    }

    /// A record's commit and block bytes.
    type Taken = (Vec<u8>, Vec<u8>);

    /// Opens and takes every record after `indexed_end`.
    fn replay(dir: &Path, indexed_end: u64) -> (BlockFile, Vec<Taken>) {
        let mut seen = Vec::new();
        let f = BlockFile::open(dir, indexed_end, |_, c, b| {
            seen.push((c.to_vec(), b.to_vec()));
            Ok(true)
        })
        .unwrap();
        (f, seen)
    }

    fn len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(NAME)).unwrap().len()
    }

    #[test]
    fn appends_read_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = open(dir.path(), 0).unwrap();
        let a = f.append(b"c1", b"first").unwrap();
        let b = f.append(b"", b"second block").unwrap();
        assert_eq!(a, Location { offset: 14, len: 5 });
        assert_eq!(b.offset, a.end() + 12);
        f.sync().unwrap();
        drop(f);
        let f = open(dir.path(), b.end()).unwrap();
        assert_eq!(f.read(a).unwrap(), b"first");
        assert_eq!(f.read(b).unwrap(), b"second block");
        assert_eq!(Location::from_bytes(&b.to_bytes()), Some(b));
    }

    #[test]
    fn records_beyond_the_index_are_replayed_in_order_until_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = open(dir.path(), 0).unwrap();
        let a = f.append(b"ca", b"indexed").unwrap();
        f.append(b"cb", b"not indexed").unwrap();
        let c = f.append(b"", b"not indexed either").unwrap();
        drop(f);
        let (f, seen) = replay(dir.path(), a.end());
        assert_eq!(
            seen,
            [
                (b"cb".to_vec(), b"not indexed".to_vec()),
                (Vec::new(), b"not indexed either".to_vec())
            ]
        );
        assert_eq!(len(dir.path()), c.end(), "the zeros ahead are cut off");
        drop(f);
        // Refused (the store finds it does not follow its chain): cut there.
        let f = BlockFile::open(dir.path(), a.end(), |_, _, _| Ok(false)).unwrap();
        assert_eq!(len(dir.path()), a.end());
        let d = f.append(b"", b"next").unwrap();
        assert_eq!(d.offset, a.end() + 12);
        assert_eq!(f.read(d).unwrap(), b"next");
    }

    #[test]
    fn a_torn_record_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let f = open(dir.path(), 0).unwrap();
        let a = f.append(b"", b"whole").unwrap();
        let b = f.append(b"commit", b"torn block").unwrap();
        drop(f);
        // The last bytes of the second record never reached the disk, or reached it damaged.
        let file = OpenOptions::new()
            .write(true)
            .open(dir.path().join(NAME))
            .unwrap();
        file.write_all_at(b"X", b.end() - 1).unwrap();
        let (_f, seen) = replay(dir.path(), 0);
        assert_eq!(seen, [(Vec::new(), b"whole".to_vec())]);
        assert_eq!(len(dir.path()), a.end());
        file.set_len(a.end() + 5).unwrap();
        let (_f, seen) = replay(dir.path(), a.end());
        assert!(seen.is_empty(), "a header cut short");
        assert_eq!(len(dir.path()), a.end());
    }

    #[test]
    fn a_file_shorter_than_its_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = open(dir.path(), 0).unwrap();
        f.append(b"", b"abc").unwrap();
        drop(f);
        // Beyond the zeros kept ahead too.
        let err = open(dir.path(), 1 << 30).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt(_)), "{err}");
    }

    #[test]
    fn zeros_are_kept_ahead_of_the_end_and_cut_off_at_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = open(dir.path(), 0).unwrap();
        let block = vec![7u8; 100_000];
        let mut last = f.append(b"", &block).unwrap();
        // Ahead: 8 of the largest block; the zeroer works in the background.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while f.zeroed_ahead() < 8 * 100_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "zeroed ahead: {}",
                f.zeroed_ahead()
            );
            std::thread::yield_now();
        }
        assert!(len(dir.path()) >= last.end() + 8 * 100_000);
        for _ in 0..40 {
            last = f.append(b"", &block).unwrap();
        }
        assert_eq!(
            f.read(last).unwrap(),
            block,
            "a block written over zeros reads back"
        );
        drop(f);
        let f = open(dir.path(), last.end()).unwrap();
        assert_eq!(f.read(last).unwrap(), block);
        drop(f);
        assert_eq!(len(dir.path()), last.end());
    }
}
