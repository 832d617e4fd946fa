//! The container-log source: keeps the set of open log files in step with what is
//! on disk (new files, rotation by rename or copy-and-truncate, deletion) and
//! remembers where each was read to.

use crate::checkpoint::FileEntry;
use crate::tailer::{LineCounts, Lines, LogFile, LogLine};
use crate::tracker::{self, Candidate, Filters};
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Forget files not seen for this long (seconds).
const FORGET_AFTER: u64 = 24 * 3600;
const MAX_KNOWN: usize = 4096;

type Key = (u64, u64);

pub struct LogSource {
    pods_dir: PathBuf,
    filters: Filters,
    max_line_bytes: usize,
    open: HashMap<Key, LogFile>,
    /// Positions of files that are not open (from the checkpoint, or closed).
    known: Vec<FileEntry>,
    buf: Vec<u8>,
    turn: usize,
    /// Files drained after being deleted or moved away; closed on the next call, once
    /// the caller has taken their last lines.
    drained: Vec<Key>,
    /// Reused between reads (no allocation per call).
    lines: Lines,
    pub counts: LineCounts,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

impl LogSource {
    pub fn new(pods_dir: PathBuf, filters: Filters, max_line_bytes: usize, known: Vec<FileEntry>) -> LogSource {
        LogSource { pods_dir, filters, max_line_bytes, open: HashMap::new(), known, buf: vec![0; 64 * 1024], turn: 0, drained: Vec::new(), lines: Lines::default(), counts: LineCounts::default() }
    }

    pub fn open_files(&self) -> usize {
        self.open.len()
    }

    /// Bring the open set in line with the directory tree.
    pub fn scan(&mut self) {
        self.close_drained();
        let candidates = tracker::scan(&self.pods_dir, &self.filters);
        let mut seen: Vec<Key> = Vec::with_capacity(candidates.len());
        // Files already open first, so a truncated original is retired before its copy looks for it.
        for cand in &candidates {
            let key = (cand.dev, cand.ino);
            if let Some(file) = self.open.get_mut(&key) {
                seen.push(key);
                file.path.clone_from(&cand.path);
                let same = cand.size >= file.offset && tracker::fingerprint(file.file()).ok().flatten() == Some(file.fingerprint);
                if !same {
                    // Truncated (copy-and-truncate) or rewritten in place: what was there is done.
                    let mut old = self.open.remove(&key).expect("present");
                    self.retire(&mut old);
                }
            }
        }
        for cand in &candidates {
            let key = (cand.dev, cand.ino);
            if !self.open.contains_key(&key) {
                if let Some(file) = self.adopt(cand) {
                    self.open.insert(key, file);
                    seen.push(key);
                }
            }
        }
        for (key, file) in self.open.iter_mut() {
            file.gone = !seen.contains(key);
        }
    }

    /// Open a file not open yet, at the position its identity says.
    fn adopt(&mut self, cand: &Candidate) -> Option<LogFile> {
        let file = File::open(&cand.path).ok()?;
        let fp = tracker::fingerprint(&file).ok()??;
        let fp_hex = fingerprint_hex(fp);
        let same_file = |e: &FileEntry| e.dev == cand.dev && e.ino == cand.ino && e.fingerprint == fp_hex;
        let position = self.known.iter().position(same_file).or_else(|| self.known.iter().position(|e| e.fingerprint == fp_hex));
        // A copy of a file still open (copy-and-truncate in progress) continues where the original is.
        let open_copy = self.open.values().find(|f| f.fingerprint == fp).map(|f| (f.boundary(), f.in_key, f.last_ts.clone()));
        let (offset, in_key, last_ts) = match (position, open_copy) {
            (_, Some(state)) => state,
            (Some(i), None) => {
                let entry = &self.known[i];
                (entry.offset, entry.in_key, entry.last_ts.clone())
            }
            (None, None) => (0, [false; 2], String::new()),
        };
        let mut log = LogFile::open(cand, file, fp, offset.min(cand.size), self.max_line_bytes).ok()?;
        log.in_key = in_key;
        if !last_ts.is_empty() {
            log.last_ts = last_ts;
        }
        if let Some(i) = position.filter(|&i| same_file(&self.known[i])) {
            self.known.swap_remove(i);
        }
        Some(log)
    }

    fn retire(&mut self, file: &mut LogFile) {
        self.known.retain(|e| !(e.dev == file.dev && e.ino == file.ino));
        self.known.push(entry(file, now_secs()));
    }

    /// Read up to `per_file` bytes from each open file, taking turns, until about
    /// `total_budget` bytes are read; each finished message goes to `each` with its
    /// file. Returns the bytes read.
    pub fn read(&mut self, per_file: usize, total_budget: usize, mut each: impl FnMut(&mut LogFile, &LogLine)) -> usize {
        self.close_drained();
        let mut total = 0;
        let mut keys: Vec<Key> = self.open.keys().copied().collect();
        keys.sort_unstable();
        if !keys.is_empty() {
            let start = self.turn % keys.len();
            keys.rotate_left(start);
            self.turn = self.turn.wrapping_add(1);
        }
        for key in keys {
            if total >= total_budget {
                break;
            }
            let file = self.open.get_mut(&key).expect("listed");
            let n = file.read(&mut self.buf, per_file, &mut self.lines, &mut self.counts).unwrap_or_else(|e| {
                eprintln!("kubetrainer-agent: reading {}: {e}", file.path.display());
                0
            });
            total += n;
            if file.gone && n == 0 && !self.drained.contains(&key) {
                file.finish(&mut self.lines, &mut self.counts);
                self.drained.push(key);
            }
            for line in self.lines.iter() {
                each(file, line);
            }
            self.lines.clear();
        }
        total
    }

    fn close_drained(&mut self) {
        for key in std::mem::take(&mut self.drained) {
            if let Some(mut file) = self.open.remove(&key) {
                self.retire(&mut file);
            }
        }
    }

    /// Checkpoint entries for everything delivered so far: open files at their
    /// boundary plus the remembered closed ones.
    pub fn entries(&mut self) -> Vec<FileEntry> {
        let now = now_secs();
        self.known.retain(|e| now.saturating_sub(e.seen) < FORGET_AFTER);
        if self.known.len() > MAX_KNOWN {
            self.known.sort_by_key(|e| std::cmp::Reverse(e.seen));
            self.known.truncate(MAX_KNOWN);
        }
        let mut entries: Vec<FileEntry> = self.open.values().map(|f| entry(f, now)).collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.extend(self.known.iter().cloned());
        entries
    }
}

fn entry(file: &LogFile, seen: u64) -> FileEntry {
    FileEntry {
        fingerprint: fingerprint_hex(file.fingerprint),
        dev: file.dev,
        ino: file.ino,
        path: file.path.display().to_string(),
        offset: file.boundary(),
        in_key: file.in_key,
        last_ts: file.last_ts.clone(),
        seen,
    }
}
