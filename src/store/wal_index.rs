//! The header of the WAL index (`<database>-shm`), read from memory: the one
//! place in doorstep with `unsafe` code (issue 10).
//!
//! Every SQLite connection in WAL mode, in any process, maps this file and
//! every commit rewrites its header (both copies of the 48-byte
//! `WalIndexHdr`, sqlite.org/walformat.html section 2.1.1), so bytes that
//! differ from the last look mean "something was committed since". Read
//! with them: the checkpoint's progress (`nBackfill`, the first word of the
//! `WalCkptInfo` after them), which tells `live` that a read transaction
//! it keeps open may be standing in the way of the WAL starting over. The
//! verification hot path (`live`) looks before every answer. Reading the
//! header with `pread` cost a system call per request (legacy GET over hot
//! tokens, server CPU per request in one interleaved `bench/verify.sh` run:
//! 12.2 µs with it, 11.7 µs without), where SQLite's own readers read the
//! same bytes from their mapping of the file. This does the same: one
//! read-only shared mapping per worker view, read with volatile loads, no
//! system call.
//!
//! Why the mapping is sound:
//! - It is read-only (`PROT_READ`, the file opened read-only): doorstep
//!   never writes SQLite's shared memory.
//! - The bytes change under us (other connections write them through their
//!   own mappings), so they are never turned into a Rust reference: only
//!   volatile loads of whole aligned words touch them. A load torn by a
//!   concurrent commit differs from the stored copy too, so the worst it
//!   can cause is one needless refill of the token map.
//! - A shared mapping faults (`SIGBUS`) past the end of its file. SQLite
//!   only ever truncates `-shm` when it opens the file with no connection
//!   in any process holding it (it must win the exclusive "DMS" lock
//!   first), and the view that owns this mapping keeps a connection to the
//!   same database open for as long as the mapping lives. The file is at
//!   least a header long when mapped (checked), and SQLite's own mapping of
//!   it (32 KiB regions) is exposed to the same rule.

use std::fs::File;
use std::path::Path;

/// Bytes of the header: both copies of the `WalIndexHdr`.
const HEADER: usize = 96;

/// Where `nBackfill` is, a 32-bit word; the mapping is this long.
const N_BACKFILL: usize = HEADER;
const MAPPED: usize = N_BACKFILL + 4;

/// The header as words, and `nBackfill` last, for comparison.
pub type Header = [u64; HEADER / 8 + 1];

/// A read-only mapping of the first page of `<database>-shm`.
pub struct WalIndex {
    map: memmap2::Mmap,
}

impl WalIndex {
    /// Maps the WAL index at `path`; None when it is missing, shorter than
    /// its header, or cannot be mapped (then callers ask SQLite instead).
    /// The caller must hold an open connection to the database for as long
    /// as the `WalIndex` lives (see the module comment).
    pub fn open(path: &Path) -> Option<WalIndex> {
        let file = File::open(path).ok()?;
        if file.metadata().ok()?.len() < MAPPED as u64 {
            return None;
        }
        // SAFETY: a read-only shared mapping of MAPPED bytes of a file that
        // is at least that long and that SQLite does not truncate while the
        // caller's connection is open (module comment). Its contents are
        // only ever read through volatile loads in `header`, never through
        // a reference, so concurrent writes by other processes are not a
        // data race on Rust-visible memory.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().len(MAPPED).map(&file) }.ok()?;
        (map.len() >= MAPPED).then_some(WalIndex { map })
    }

    /// The header and `nBackfill` as they are now.
    pub fn header(&self) -> Header {
        let base = self.map.as_ptr().cast::<u64>();
        let mut words = [0u64; HEADER / 8 + 1];
        for (i, word) in words.iter_mut().take(HEADER / 8).enumerate() {
            // SAFETY: `base` is page-aligned (mmap) and the mapping is at
            // least HEADER bytes long, so word `i < HEADER / 8` is in
            // bounds and aligned; a volatile load never forms a reference
            // to memory other processes write.
            #[allow(unsafe_code)]
            {
                *word = unsafe { std::ptr::read_volatile(base.add(i)) };
            }
        }
        // SAFETY: as above, for the aligned 32-bit word at N_BACKFILL, in
        // bounds of the MAPPED bytes.
        #[allow(unsafe_code)]
        let backfilled =
            unsafe { std::ptr::read_volatile(self.map.as_ptr().add(N_BACKFILL).cast::<u32>()) };
        words[HEADER / 8] = u64::from(backfilled);
        // What SQLite writes after the header (the WAL frames it announces)
        // is read through SQLite, under its own locks; this only orders our
        // later reads after this look, as SQLite's walIndexTryHdr does.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_from_another_connection_changes_the_mapped_header() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute("CREATE TABLE t (x)", []).unwrap();
        let index = WalIndex::open(&dir.path().join("t.db-shm")).unwrap();
        let before = index.header();
        assert_eq!(before, index.header(), "nothing committed, nothing moved");
        let other = rusqlite::Connection::open(&db).unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let committed = index.header();
        assert_ne!(before, committed);
        other
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .unwrap();
        let checkpointed = index.header();
        assert_ne!(committed, checkpointed, "a checkpoint shows too");
        assert_eq!(committed[..12], checkpointed[..12], "in nBackfill only");
    }

    #[test]
    fn a_missing_or_short_file_is_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WalIndex::open(&dir.path().join("missing-shm")).is_none());
        let short = dir.path().join("short-shm");
        std::fs::write(&short, [0u8; 99]).unwrap();
        assert!(WalIndex::open(&short).is_none());
    }
}
