//! A private key printed line by line: the state one log stream carries between lines
//! (`streams.algorithm` in the vectors file; `kubetrainer.redact_keys` is the Python twin).
//!
//! Loggers prefix every line (timestamp, level, logger, container, a JSON envelope),
//! so a body line is recognised by its last token, not by the whole line.

use memchr::memmem::Finder;
use regex::Regex;

pub const MARKER: &str = "[REDACTED:private_key]";
const END: &str = "-----END ";
pub const END_TAIL: &str = "PRIVATE KEY-----";
const HEADERS: [&str; 2] = ["Proc-Type:", "DEK-Info:"];
const ESCAPES: [&str; 3] = ["\\n", "\\r", "\\t"];
const MIN_PREFIXED: usize = 16;

pub struct KeyBlock {
    begin: Regex,
    end_tail: Finder<'static>,
}

impl KeyBlock {
    pub fn new() -> KeyBlock {
        KeyBlock { begin: Regex::new(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----").expect("static regex"), end_tail: Finder::new(END_TAIL) }
    }

    /// `line` with its key material replaced (None when unchanged) and the markers added;
    /// `in_key` is the stream's state. The patterns run on the result afterwards.
    /// `may_open` false promises that `line` does not hold END_TAIL (the caller knows).
    pub fn step(&self, line: &str, in_key: &mut bool, may_open: bool) -> (Option<String>, u64) {
        let out = if *in_key { inside(line, in_key) } else { (None, 0) };
        if may_open && self.end_tail.find(line.as_bytes()).is_some() {
            if let Some(begin) = self.begin.find_iter(line).last() {
                *in_key = !line[begin.end()..].contains(END);
            }
        }
        out
    }
}

fn inside(line: &str, in_key: &mut bool) -> (Option<String>, u64) {
    if let Some(start) = line.find(END) {
        if let Some(offset) = line[start..].find(END_TAIL) {
            *in_key = false;
            let head = &line[..start];
            let kept = body_span(head).map_or(head, |(from, _)| &head[..from]);
            return (Some(format!("{kept}{MARKER}{}", &line[start + offset + END_TAIL.len()..])), 1);
        }
    }
    if line.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty() {
        return (None, 0);
    }
    match body_span(line) {
        Some((from, to)) => (Some(format!("{}{MARKER}{}", &line[..from], &line[to..])), 1),
        None => {
            *in_key = false;
            (None, 0)
        }
    }
}

/// Where the key material of a line inside a key block is (byte offsets), if anywhere.
pub fn body_span(line: &str) -> Option<(usize, usize)> {
    for header in HEADERS {
        if let Some(at) = line.find(header) {
            return Some((at, line.len()));
        }
    }
    let bytes = line.as_bytes();
    let stop = content_end(line);
    let mut start = stop;
    while start > 0 && is_base64(bytes[start - 1]) {
        start -= 1;
    }
    let token = &line[start..stop];
    if token.is_empty() {
        return None;
    }
    if line[..start].bytes().all(|b| b.is_ascii_whitespace()) {
        return Some((start, stop));
    }
    if !matches!(bytes[start - 1], b' ' | b'\t' | b'"' | b'\'' | b':' | b'=') {
        return None;
    }
    let has = |f: fn(&u8) -> bool| token.as_bytes().iter().any(f);
    let mixed = has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_digit);
    (token.len() >= MIN_PREFIXED || token.ends_with('=') || mixed).then_some((start, stop))
}

/// The end of a line's last token: before trailing closing quotes, brackets, spaces and `\n` escapes.
fn content_end(line: &str) -> usize {
    let mut stop = line.len();
    loop {
        let head = &line[..stop];
        if matches!(head.as_bytes().last(), Some(b' ' | b'\t' | b'\r' | b'"' | b'\'' | b',' | b';' | b')' | b']' | b'}' | b'\\')) {
            stop -= 1;
        } else if ESCAPES.iter().any(|e| head.ends_with(e)) {
            stop -= 2;
        } else {
            return stop;
        }
    }
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}
