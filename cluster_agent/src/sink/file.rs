//! `file:DIR`: JSON Lines files that appear atomically. Batches are appended and
//! fsynced to a hidden file, which is renamed to `records-*.jsonl` when it reaches
//! the size or age limit or at exit, so readers never see a half-written file.

use super::{Retry, Sink};
use crate::fsutil::sync_dir;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CURRENT: &str = ".current.jsonl.partial";

pub struct FileSink {
    dir: PathBuf,
    prefix: String,
    max_bytes: u64,
    max_age: Duration,
    current: Option<(File, u64, Instant)>,
    sequence: u64,
}

impl FileSink {
    /// Opens DIR, publishing a file a previous run left unfinished (minus a torn last line).
    pub fn new(dir: &Path, node: &str, max_bytes: u64, max_age: Duration) -> Result<FileSink, String> {
        fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create output directory: {e}", dir.display()))?;
        let prefix = format!("records-{}", node.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"));
        let mut sink = FileSink { dir: dir.to_path_buf(), prefix, max_bytes, max_age, current: None, sequence: 0 };
        let leftover = sink.dir.join(CURRENT);
        if leftover.exists() {
            trim_torn_tail(&leftover).map_err(|e| format!("{}: {e}", leftover.display()))?;
            sink.publish().map_err(|e| format!("{}: {e}", leftover.display()))?;
        }
        Ok(sink)
    }

    fn open_current(&mut self) -> std::io::Result<&mut (File, u64, Instant)> {
        if self.current.is_none() {
            let file = OpenOptions::new().create(true).append(true).open(self.dir.join(CURRENT))?;
            let len = file.metadata()?.len();
            self.current = Some((file, len, Instant::now()));
        }
        Ok(self.current.as_mut().expect("just opened"))
    }

    /// Rename the current file to its final name (if it holds anything).
    fn publish(&mut self) -> std::io::Result<()> {
        self.current = None;
        let current = self.dir.join(CURRENT);
        if fs::metadata(&current).map(|m| m.len() == 0).unwrap_or(true) {
            let _ = fs::remove_file(&current);
            return Ok(());
        }
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        self.sequence += 1;
        let name = format!("{}-{millis}-{}-{}.jsonl", self.prefix, std::process::id(), self.sequence);
        fs::rename(&current, self.dir.join(name))?;
        sync_dir(&self.dir)
    }
}

/// Cut a crash-torn last line: its records were not checkpointed and will be read again.
fn trim_torn_tail(path: &Path) -> std::io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if keep < bytes.len() {
        file.set_len(keep as u64)?;
        file.seek(SeekFrom::Start(keep as u64))?;
        file.sync_all()?;
    }
    Ok(())
}

impl Sink for FileSink {
    fn deliver(&mut self, batch: &[u8], _records: usize) -> Result<(), Retry> {
        let (max_bytes, max_age) = (self.max_bytes, self.max_age);
        let dir = self.dir.display().to_string();
        let (file, len, opened) = self.open_current().map_err(|e| Retry(format!("{dir}: {e}")))?;
        let written = file.write_all(batch).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Undo a partial append so the retry does not leave a torn line behind.
            let _ = file.set_len(*len);
            return Err(Retry(format!("{dir}: {e}")));
        }
        *len += batch.len() as u64;
        if *len >= max_bytes || opened.elapsed() >= max_age {
            self.publish().map_err(|e| Retry(format!("{dir}: {e}")))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.publish().map_err(|e| format!("{}: {e}", self.dir.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".jsonl"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotates_by_size_and_publishes_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = FileSink::new(dir.path(), "node-a", 10, Duration::from_secs(3600)).unwrap();
        sink.deliver(b"{\"a\":1}\n", 1).unwrap();
        assert!(published(dir.path()).is_empty(), "not visible before rotation");
        sink.deliver(b"{\"a\":2}\n", 1).unwrap();
        assert_eq!(published(dir.path()).len(), 1);
        sink.deliver(b"{\"a\":3}\n", 1).unwrap();
        sink.finish().unwrap();
        let names = published(dir.path());
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("records-node-a-"));
        let all: String = names.iter().map(|n| fs::read_to_string(dir.path().join(n)).unwrap()).collect();
        assert_eq!(all.lines().count(), 3);
    }

    #[test]
    fn a_torn_leftover_is_trimmed_and_published() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CURRENT), b"{\"a\":1}\n{\"a\":").unwrap();
        FileSink::new(dir.path(), "n", 1 << 20, Duration::from_secs(60)).unwrap();
        let names = published(dir.path());
        assert_eq!(fs::read_to_string(dir.path().join(&names[0])).unwrap(), "{\"a\":1}\n");
        assert!(!dir.path().join(CURRENT).exists());
    }
}
