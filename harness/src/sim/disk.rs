//! A node's disk in the simulation: redb's storage backend over memory,
//! with the harshest crash semantics a real disk allows.
//!
//! Writes land in a volatile image; `sync_data` (redb's fsync) makes the
//! volatile image durable. A kill ([`SimDisk::crash`]) throws away every
//! write not synced yet; a restart reopens the durable image; a wipe
//! ([`SimDisk::wipe`]) empties both. So "a finalized block is never lost"
//! is checked against a disk that keeps only what was fsynced.

use std::io;
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
struct Images {
    /// What a reader sees now (written, maybe not synced).
    volatile: Vec<u8>,
    /// What survives a crash (as of the last sync).
    durable: Vec<u8>,
    /// Byte ranges written since the last sync: a sync copies only these
    /// (copying the whole image per commit cost O(database) per block).
    dirty: Vec<(usize, usize)>,
    /// The shortest `volatile` was since the last sync (a truncation
    /// followed by a regrow must read zeros, not the old durable bytes).
    min_len: usize,
    /// Writes since the last sync (diagnostics: how much a crash drops).
    unsynced_writes: u64,
}

impl Images {
    /// Make the durable image equal the volatile one, copying only what
    /// changed since the last sync.
    fn sync(&mut self) {
        let len = self.volatile.len();
        self.durable.truncate(self.min_len);
        self.durable.resize(len, 0);
        for (start, end) in std::mem::take(&mut self.dirty) {
            let end = end.min(len);
            if start < end {
                self.durable[start..end].copy_from_slice(&self.volatile[start..end]);
            }
        }
        self.min_len = len;
        self.unsynced_writes = 0;
    }
}

/// One node's disk, shared by every start of that node.
#[derive(Clone, Default, Debug)]
pub struct SimDisk {
    images: Arc<Mutex<Images>>,
}

impl SimDisk {
    /// A backend for one start of the node (redb takes ownership of it).
    pub fn backend(&self) -> Box<dyn redb::StorageBackend> {
        Box::new(Backend(self.clone()))
    }

    /// Kill: the unsynced writes are gone. Returns how many there were.
    pub fn crash(&self) -> u64 {
        let mut i = self.images.lock().unwrap();
        i.volatile = i.durable.clone();
        i.dirty.clear();
        i.min_len = i.durable.len();
        std::mem::take(&mut i.unsynced_writes)
    }

    /// Wipe: a fresh, empty data dir.
    pub fn wipe(&self) {
        *self.images.lock().unwrap() = Images::default();
    }

    /// Bytes that would survive a crash now.
    pub fn durable_len(&self) -> usize {
        self.images.lock().unwrap().durable.len()
    }
}

#[derive(Debug)]
struct Backend(SimDisk);

impl redb::StorageBackend for Backend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.images.lock().unwrap().volatile.len() as u64)
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let i = self.0.images.lock().unwrap();
        let start = offset as usize;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= i.volatile.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        Ok(i.volatile[start..end].to_vec())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut i = self.0.images.lock().unwrap();
        i.volatile.resize(len as usize, 0);
        i.min_len = i.min_len.min(len as usize);
        i.unsynced_writes += 1;
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        self.0.images.lock().unwrap().sync();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut i = self.0.images.lock().unwrap();
        let start = offset as usize;
        let end = start + data.len();
        if end > i.volatile.len() {
            i.volatile.resize(end, 0);
        }
        i.volatile[start..end].copy_from_slice(data);
        i.dirty.push((start, end));
        i.unsynced_writes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::StorageBackend;

    #[test]
    fn a_crash_drops_unsynced_writes_and_a_wipe_drops_everything() {
        let disk = SimDisk::default();
        let b = Backend(disk.clone());
        b.write(0, b"synced").unwrap();
        b.sync_data(false).unwrap();
        b.write(0, b"LOST!!").unwrap();
        assert_eq!(b.read(0, 6).unwrap(), b"LOST!!");
        assert_eq!(disk.crash(), 1);
        assert_eq!(
            b.read(0, 6).unwrap(),
            b"synced",
            "only the synced image survives"
        );
        disk.wipe();
        assert_eq!(b.len().unwrap(), 0);
        assert_eq!(disk.durable_len(), 0);
    }

    #[test]
    fn a_sync_copies_writes_truncations_and_regrowth_exactly() {
        let disk = SimDisk::default();
        let b = Backend(disk.clone());
        b.write(0, b"abcdefgh").unwrap();
        b.sync_data(false).unwrap();
        b.write(2, b"XY").unwrap();
        b.set_len(4).unwrap();
        b.set_len(8).unwrap(); // regrown: bytes 4..8 read as zeros now
        b.write(10, b"Z").unwrap(); // past the end: 8..10 zero-filled
        b.sync_data(false).unwrap();
        let want = b"abXY\0\0\0\0\0\0Z".to_vec();
        assert_eq!(b.read(0, 11).unwrap(), want);
        disk.crash();
        assert_eq!(b.read(0, 11).unwrap(), want, "the synced image is exact");
        b.write(0, b"Q").unwrap();
        disk.crash();
        assert_eq!(b.read(0, 11).unwrap(), want, "an unsynced write is dropped");
    }
}
