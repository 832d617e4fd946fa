//! One open container log file: reads new bytes from its offset, splits lines
//! (capping huge ones without holding them in memory), joins CRI partial lines and
//! says up to where everything has been turned into records (`boundary`).

use crate::cri::{self, Assembler, Message, Stream};
use crate::record::FileFields;
use crate::timefmt;
use crate::tracker::{Candidate, PodMeta};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// Room for the CRI header in front of a capped message.
const HEADER_ROOM: usize = 128;

/// One log message, ready to become a record.
#[derive(Debug, Default)]
pub struct LogLine {
    /// File offset of its first byte: with the file's fingerprint, its stable identity.
    pub offset: u64,
    pub ts: String,
    pub stream: Option<Stream>,
    pub message: Message,
    pub malformed: bool,
}

/// Finished messages, handed out as a slice; their buffers are reused by the next
/// read, so a steady stream of lines allocates nothing per line.
#[derive(Debug, Default)]
pub struct Lines {
    all: Vec<LogLine>,
    len: usize,
}

/// A reused message buffer larger than this is given back after use (bounded memory).
const KEEP_CAPACITY: usize = 16 * 1024;

impl Lines {
    /// A slot for one more line, holding whatever an earlier line left in it.
    fn slot(&mut self) -> &mut LogLine {
        if self.len == self.all.len() {
            self.all.push(LogLine::default());
        }
        self.len += 1;
        &mut self.all[self.len - 1]
    }

    /// Forget the lines (keeping modest buffers for the next ones).
    pub fn clear(&mut self) {
        for line in &mut self.all[..self.len] {
            if line.message.text.capacity() > KEEP_CAPACITY {
                line.message.text = String::new();
            }
        }
        self.len = 0;
    }
}

impl std::ops::Deref for Lines {
    type Target = [LogLine];
    fn deref(&self) -> &[LogLine] {
        &self.all[..self.len]
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LineCounts {
    pub lines: u64,
    pub malformed: u64,
    pub invalid_utf8: u64,
    pub truncated: u64,
}

pub struct LogFile {
    pub meta: Arc<PodMeta>,
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: u64,
    pub in_key: [bool; 2],
    pub last_ts: String,
    /// The record fields every line of this file shares, encoded at its first line.
    pub record_fields: Option<Box<FileFields>>,
    /// The path no longer leads to this file (deleted or moved away): drain and close.
    pub gone: bool,
    file: File,
    /// Next byte to read.
    pub offset: u64,
    line: Vec<u8>,
    line_start: u64,
    line_dropped: u64,
    parts: [Assembler; 2],
    max_bytes: usize,
}

impl LogFile {
    pub fn open(cand: &Candidate, file: File, fingerprint: u64, offset: u64, max_bytes: usize) -> io::Result<LogFile> {
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        let fallback_ts = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| timefmt::unix_to_utc(d.as_secs() as i64))
            .unwrap_or_else(timefmt::now_utc);
        Ok(LogFile {
            meta: cand.meta.clone(),
            path: cand.path.clone(),
            dev: cand.dev,
            ino: cand.ino,
            fingerprint,
            in_key: [false; 2],
            last_ts: fallback_ts,
            record_fields: None,
            gone: false,
            file,
            offset,
            line: Vec::new(),
            line_start: offset,
            line_dropped: 0,
            parts: [Assembler::default(), Assembler::default()],
            max_bytes,
        })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Every message starting before this offset has been handed out.
    pub fn boundary(&self) -> u64 {
        self.parts.iter().filter_map(|p| p.start).fold(self.line_start, u64::min)
    }

    /// Read at most `budget` bytes, appending finished messages to `out`; returns bytes read.
    pub fn read(&mut self, buf: &mut [u8], budget: usize, out: &mut Lines, counts: &mut LineCounts) -> io::Result<usize> {
        let mut total = 0;
        while total < budget {
            let want = buf.len().min(budget - total);
            let n = match self.file.read(&mut buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            self.split(&buf[..n], out, counts);
            total += n;
        }
        Ok(total)
    }

    fn split(&mut self, chunk: &[u8], out: &mut Lines, counts: &mut LineCounts) {
        let mut rest = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let end = self.offset + newline as u64 + 1;
            if self.line.is_empty() && self.line_dropped == 0 {
                let cap = (self.max_bytes + HEADER_ROOM).min(newline);
                self.finish_line(&rest[..cap], (newline - cap) as u64, out, counts);
            } else {
                self.append(&rest[..newline]);
                let line = std::mem::take(&mut self.line);
                let dropped = std::mem::take(&mut self.line_dropped);
                self.finish_line(&line, dropped, out, counts);
                self.line = line;
                self.line.clear();
            }
            self.line_start = end;
            self.offset = end;
            rest = &rest[newline + 1..];
        }
        self.append(rest);
        self.offset += rest.len() as u64;
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = (self.max_bytes + HEADER_ROOM).saturating_sub(self.line.len());
        let keep = room.min(bytes.len());
        self.line.extend_from_slice(&bytes[..keep]);
        self.line_dropped += (bytes.len() - keep) as u64;
    }

    fn finish_line(&mut self, line: &[u8], dropped: u64, out: &mut Lines, counts: &mut LineCounts) {
        counts.lines += 1;
        let start = self.line_start;
        let parsed = cri::parse(line).and_then(|l| timefmt::normalize_cow(l.ts).map(|ts| (l, ts)));
        let Some((cri_line, ts)) = parsed else {
            counts.malformed += 1;
            let slot = out.slot();
            slot.message.fill(&line[..line.len().min(self.max_bytes)], dropped + line.len().saturating_sub(self.max_bytes) as u64);
            slot.ts.clone_from(&self.last_ts);
            (slot.offset, slot.stream, slot.malformed) = (start, None, true);
            Self::count(slot, counts);
            return;
        };
        self.last_ts.clear();
        self.last_ts.push_str(&ts);
        let part = &mut self.parts[cri_line.stream.index()];
        if !cri_line.partial && part.start.is_none() {
            // The common case, a whole line: no joining, one copy into a reused buffer.
            let keep = cri_line.text.len().min(self.max_bytes);
            let slot = out.slot();
            slot.message.fill(&cri_line.text[..keep], dropped + (cri_line.text.len() - keep) as u64);
            slot.ts.clone_from(&self.last_ts);
            (slot.offset, slot.stream, slot.malformed) = (start, Some(cri_line.stream), false);
            Self::count(slot, counts);
            return;
        }
        part.push(start, &ts, cri_line.text, self.max_bytes);
        part.dropped += dropped;
        if !cri_line.partial {
            let offset = part.start.unwrap_or(start);
            let ts = std::mem::take(&mut part.ts);
            let message = part.take();
            let slot = out.slot();
            *slot = LogLine { offset, ts, stream: Some(cri_line.stream), message, malformed: false };
            Self::count(slot, counts);
        }
    }

    fn count(line: &LogLine, counts: &mut LineCounts) {
        counts.invalid_utf8 += u64::from(line.message.invalid_utf8);
        counts.truncated += u64::from(line.message.truncated);
    }

    /// The file will not grow any more (gone and drained): hand out what is still
    /// open, a trailing line without newline and unfinished partial messages.
    pub fn finish(&mut self, out: &mut Lines, counts: &mut LineCounts) {
        if !self.line.is_empty() || self.line_dropped > 0 {
            let line = std::mem::take(&mut self.line);
            let dropped = std::mem::take(&mut self.line_dropped);
            self.finish_line(&line, dropped, out, counts);
        }
        for stream in [Stream::Stdout, Stream::Stderr] {
            let part = &mut self.parts[stream.index()];
            if let Some(offset) = part.start {
                let ts = std::mem::take(&mut part.ts);
                let message = part.take();
                let slot = out.slot();
                *slot = LogLine { offset, ts, stream: Some(stream), message, malformed: false };
                Self::count(slot, counts);
            }
        }
        self.line_start = self.offset;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn open(content: &[u8], offset: u64, max_bytes: usize) -> (tempfile::TempDir, LogFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, content).unwrap();
        let meta = Arc::new(PodMeta { namespace: "ns".into(), pod: "p".into(), uid: "u".into(), container: "c".into() });
        let cand = Candidate { path: path.clone(), meta, dev: 0, ino: 0, size: content.len() as u64 };
        let file = LogFile::open(&cand, File::open(&path).unwrap(), 1, offset, max_bytes).unwrap();
        (dir, file)
    }

    fn read_all(file: &mut LogFile) -> (Lines, LineCounts) {
        let (mut out, mut counts, mut buf) = (Lines::default(), LineCounts::default(), vec![0u8; 7]);
        while file.read(&mut buf, 1 << 20, &mut out, &mut counts).unwrap() > 0 {}
        (out, counts)
    }

    const TS: &str = "2026-11-29T04:31:07.000000001Z";

    #[test]
    fn joins_partials_and_tracks_the_boundary() {
        let content = format!("{TS} stdout P hel\n{TS} stderr F oops\n{TS} stdout F lo\n{TS} stdout P open");
        let (_dir, mut file) = open(content.as_bytes(), 0, 1024);
        let (out, counts) = read_all(&mut file);
        let texts: Vec<&str> = out.iter().map(|l| l.message.text.as_str()).collect();
        assert_eq!(texts, ["oops", "hello"]);
        assert_eq!(out[1].offset, 0, "a joined message is known by its first part's offset");
        assert_eq!(counts.lines, 3);
        let complete = content.rfind('\n').unwrap() as u64 + 1;
        assert_eq!(file.boundary(), complete);
    }

    #[test]
    fn boundary_stays_at_an_unfinished_partial() {
        let content = format!("{TS} stdout P part\n{TS} stderr F other\n");
        let (_dir, mut file) = open(content.as_bytes(), 0, 1024);
        let (out, _) = read_all(&mut file);
        assert_eq!(out.len(), 1);
        assert_eq!(file.boundary(), 0);
    }

    #[test]
    fn resumes_at_an_offset() {
        let first = format!("{TS} stdout F one\n");
        let content = format!("{first}{TS} stdout F two\n");
        let (_dir, mut file) = open(content.as_bytes(), first.len() as u64, 1024);
        let (out, _) = read_all(&mut file);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].message.text.as_str(), out[0].offset), ("two", first.len() as u64));
    }

    #[test]
    fn huge_lines_are_capped_and_malformed_ones_kept() {
        let big = "x".repeat(10_000);
        let mut content = format!("{TS} stdout F {big}\nnot cri at all\n{TS} stdout F ").into_bytes();
        content.extend_from_slice(b"\xff\n");
        let (_dir, mut file) = open(&content, 0, 100);
        let (out, counts) = read_all(&mut file);
        assert_eq!(out[0].message.text, format!("{} [TRUNCATED: 9900 more bytes]", "x".repeat(100)));
        assert!(out[1].malformed && out[1].message.text == "not cri at all" && out[1].stream.is_none());
        assert_eq!(out[1].ts, TS, "a malformed line takes the last good timestamp");
        assert!(out[2].message.invalid_utf8);
        assert_eq!((counts.lines, counts.malformed, counts.truncated, counts.invalid_utf8), (3, 1, 1, 1));
    }

    #[test]
    fn finish_hands_out_what_is_left() {
        let content = format!("{TS} stdout P half\n{TS} stdout F no newline");
        let (_dir, mut file) = open(content.as_bytes(), 0, 1024);
        let (mut out, mut counts) = read_all(&mut file);
        assert!(out.is_empty());
        file.finish(&mut out, &mut counts);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message.text, "halfno newline");
        assert_eq!(file.boundary(), content.len() as u64);
    }

    #[test]
    fn appended_data_is_read_on_the_next_call() {
        let (dir, mut file) = open(format!("{TS} stdout F a\n").as_bytes(), 0, 1024);
        read_all(&mut file);
        let mut writer = std::fs::OpenOptions::new().append(true).open(dir.path().join("0.log")).unwrap();
        write!(writer, "{TS} stdout F b\n").unwrap();
        let (out, _) = read_all(&mut file);
        assert_eq!(out[0].message.text, "b");
    }
}
