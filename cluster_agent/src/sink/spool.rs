//! A disk spool of gzipped batches the receiver has not acknowledged yet, bounded
//! in bytes, delivered oldest first. Each batch is one atomically written file.

use crate::fsutil::write_atomic;
use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

pub struct Spool {
    dir: PathBuf,
    queue: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    next: u64,
}

impl Spool {
    pub fn open(dir: &Path) -> Result<Spool, String> {
        fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create spool directory: {e}", dir.display()))?;
        let mut found: Vec<(u64, PathBuf, u64)> = fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let seq = name.strip_suffix(".ndjson.gz")?.parse().ok()?;
                Some((seq, entry.path(), entry.metadata().ok()?.len()))
            })
            .collect();
        found.sort();
        let next = found.last().map_or(0, |(seq, _, _)| seq + 1);
        let bytes = found.iter().map(|(_, _, size)| size).sum();
        let queue = found.into_iter().map(|(_, path, size)| (path, size)).collect();
        Ok(Spool { dir: dir.to_path_buf(), queue, bytes, next })
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn push(&mut self, body: &[u8]) -> std::io::Result<()> {
        let path = self.dir.join(format!("{:016}.ndjson.gz", self.next));
        write_atomic(&path, body)?;
        self.next += 1;
        self.bytes += body.len() as u64;
        self.queue.push_back((path, body.len() as u64));
        Ok(())
    }

    pub fn front(&self) -> Option<std::io::Result<Vec<u8>>> {
        self.queue.front().map(|(path, _)| fs::read(path))
    }

    pub fn pop(&mut self) {
        if let Some((path, size)) = self.queue.pop_front() {
            let _ = fs::remove_file(path);
            self.bytes -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        spool.push(b"one").unwrap();
        spool.push(b"three").unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.bytes(), 8);
        assert_eq!(spool.front().unwrap().unwrap(), b"one");
        spool.pop();
        spool.push(b"four").unwrap();
        assert_eq!(spool.front().unwrap().unwrap(), b"three");
        spool.pop();
        assert_eq!(spool.front().unwrap().unwrap(), b"four");
        spool.pop();
        assert!(spool.is_empty() && spool.bytes() == 0);
    }
}
