//! Secret redaction, driven by `schemas/redaction-vectors.json` (shared with
//! `kubetrainer.redact` in Python; both test suites run every vector).
//!
//! Speed matters here (every log line passes through): one Aho-Corasick scan for
//! the patterns' keywords decides which regexes can match at all, so a line with
//! no keyword costs one linear scan and no allocation.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde::Deserialize;

/// The shared pattern file, compiled into the binary so the agent and the tests agree.
pub const SHARED_PATTERNS: &str = include_str!("../../schemas/redaction-vectors.json");
const MARKER: &str = "[REDACTED:";
const KEY_TYPE: &str = "private_key";

#[derive(Deserialize)]
struct PatternFile {
    patterns: Vec<PatternEntry>,
}

#[derive(Deserialize)]
struct PatternEntry {
    #[serde(rename = "type")]
    kind: String,
    regex: String,
    #[serde(default)]
    keywords: Vec<String>,
}

struct Pattern {
    type_index: usize,
    regex: Regex,
    secret_group: Option<usize>,
}

/// Redactions counted by type index (see `Redactor::type_names`).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub by_type: Vec<u64>,
}

impl Tally {
    fn add(&mut self, type_index: usize) {
        if self.by_type.len() <= type_index {
            self.by_type.resize(type_index + 1, 0);
        }
        self.by_type[type_index] += 1;
    }
}

pub struct Redactor {
    patterns: Vec<Pattern>,
    type_names: Vec<String>,
    keywords: AhoCorasick,
    keyword_pattern: Vec<usize>,
    always: Vec<usize>,
    key_begin: Regex,
    key_type: usize,
}

impl Redactor {
    /// The shared patterns followed by user-supplied `TYPE=REGEX` ones.
    pub fn new(extra: &[String]) -> Result<Redactor, String> {
        let file: PatternFile = serde_json::from_str(SHARED_PATTERNS)
            .map_err(|e| format!("schemas/redaction-vectors.json: {e}"))?;
        let mut entries = file.patterns;
        for spec in extra {
            let (kind, regex) = spec
                .split_once('=')
                .filter(|(k, r)| !k.trim().is_empty() && !r.is_empty())
                .ok_or_else(|| format!("bad redaction pattern {spec:?}; expected TYPE=REGEX"))?;
            entries.push(PatternEntry { kind: kind.trim().to_string(), regex: regex.to_string(), keywords: vec![] });
        }
        Self::from_entries(entries)
    }

    fn from_entries(entries: Vec<PatternEntry>) -> Result<Redactor, String> {
        let mut type_names: Vec<String> = Vec::new();
        let mut patterns = Vec::new();
        let (mut words, mut keyword_pattern, mut always) = (Vec::new(), Vec::new(), Vec::new());
        for (index, entry) in entries.into_iter().enumerate() {
            let valid_name = entry.kind.starts_with(|c: char| c.is_ascii_lowercase())
                && entry.kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_name {
                return Err(format!(
                    "invalid redaction type name {:?}; expected lower-case letters, digits and underscores",
                    entry.kind
                ));
            }
            let regex = Regex::new(&entry.regex)
                .map_err(|e| format!("invalid regex for redaction type {:?}: {e}", entry.kind))?;
            let secret_group = regex.capture_names().position(|name| name == Some("secret"));
            let type_index = match type_names.iter().position(|n| *n == entry.kind) {
                Some(i) => i,
                None => {
                    type_names.push(entry.kind.clone());
                    type_names.len() - 1
                }
            };
            if entry.keywords.is_empty() {
                always.push(index);
            }
            for word in entry.keywords {
                words.push(word);
                keyword_pattern.push(index);
            }
            patterns.push(Pattern { type_index, regex, secret_group });
        }
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .map_err(|e| format!("redaction keywords: {e}"))?;
        let key_type = type_names.iter().position(|n| n == KEY_TYPE).unwrap_or_else(|| {
            type_names.push(KEY_TYPE.to_string());
            type_names.len() - 1
        });
        let key_begin = Regex::new(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----").expect("static regex");
        Ok(Redactor { patterns, type_names, keywords, keyword_pattern, always, key_begin, key_type })
    }

    pub fn type_names(&self) -> &[String] {
        &self.type_names
    }

    /// `text` with its secrets replaced, or None when it holds none; counts go to `tally`.
    pub fn redact(&self, text: &str, tally: &mut Tally) -> Option<String> {
        if self.always.is_empty() && !self.keywords.is_match(text) {
            return None;
        }
        let mut candidates: Option<Vec<bool>> = None;
        for hit in self.keywords.find_overlapping_iter(text) {
            let flags = candidates.get_or_insert_with(|| vec![false; self.patterns.len()]);
            flags[self.keyword_pattern[hit.pattern().as_usize()]] = true;
        }
        if candidates.is_none() && self.always.is_empty() {
            return None;
        }
        let mut flags = candidates.unwrap_or_else(|| vec![false; self.patterns.len()]);
        for &index in &self.always {
            flags[index] = true;
        }
        let mut current: Option<String> = None;
        for (pattern, _) in self.patterns.iter().zip(&flags).filter(|(_, on)| **on) {
            let source = current.as_deref().unwrap_or(text);
            if let Some(replaced) = self.apply(pattern, source, tally) {
                current = Some(replaced);
            }
        }
        current
    }

    fn apply(&self, pattern: &Pattern, text: &str, tally: &mut Tally) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        let mut changed = false;
        for caps in pattern.regex.captures_iter(text) {
            let Some(span) = caps.get(pattern.secret_group.unwrap_or(0)) else { continue };
            if span.as_str().contains(MARKER) {
                continue;
            }
            out.push_str(&text[last..span.start()]);
            self.push_marker(&mut out, pattern.type_index);
            tally.add(pattern.type_index);
            last = span.end();
            changed = true;
        }
        changed.then(|| {
            out.push_str(&text[last..]);
            out
        })
    }

    fn push_marker(&self, out: &mut String, type_index: usize) {
        out.push_str(MARKER);
        out.push_str(&self.type_names[type_index]);
        out.push(']');
    }

    /// One log line of a stream, keeping `in_key` across lines: a private key printed
    /// line by line is redacted from its BEGIN line through its END line.
    pub fn redact_line(&self, text: &str, in_key: &mut bool, tally: &mut Tally) -> Option<String> {
        if *in_key {
            if let Some(end) = key_block_end(text) {
                *in_key = false;
                let rest = &text[end..];
                let mut out = String::new();
                self.push_marker(&mut out, self.key_type);
                tally.add(self.key_type);
                out.push_str(self.redact(rest, tally).as_deref().unwrap_or(rest));
                return Some(out);
            }
            if looks_like_key_body(text) {
                let mut out = String::new();
                self.push_marker(&mut out, self.key_type);
                tally.add(self.key_type);
                return Some(out);
            }
            *in_key = false;
        }
        let redacted = self.redact(text, tally);
        if !text.contains("PRIVATE KEY-----") {
            return redacted;
        }
        if let Some(begin) = self.key_begin.find_iter(text).last() {
            *in_key = !text[begin.end()..].contains("-----END ");
        }
        redacted
    }
}

/// The byte just past `-----END ... PRIVATE KEY-----`, if the line holds one.
fn key_block_end(text: &str) -> Option<usize> {
    let start = text.find("-----END ")?;
    let tail = "PRIVATE KEY-----";
    text[start..].find(tail).map(|i| start + i + tail.len())
}

/// Base64 body lines and the RFC 1421 headers of encrypted keys.
fn looks_like_key_body(text: &str) -> bool {
    let line = text.trim();
    line.starts_with("Proc-Type:")
        || line.starts_with("DEK-Info:")
        || line.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        text: String,
        expected: String,
        counts: BTreeMap<String, u64>,
    }

    #[derive(Deserialize)]
    struct VectorFile {
        vectors: Vec<Vector>,
    }

    fn counts(redactor: &Redactor, tally: &Tally) -> BTreeMap<String, u64> {
        let names = redactor.type_names();
        tally.by_type.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (names[i].clone(), *n)).collect()
    }

    #[test]
    fn every_shared_vector() {
        let redactor = Redactor::new(&[]).unwrap();
        let file: VectorFile = serde_json::from_str(SHARED_PATTERNS).unwrap();
        assert!(file.vectors.len() >= 50);
        for vector in file.vectors {
            let mut tally = Tally::default();
            let out = redactor.redact(&vector.text, &mut tally);
            assert_eq!(out.as_deref().unwrap_or(&vector.text), vector.expected, "vector {}", vector.name);
            assert_eq!(counts(&redactor, &tally), vector.counts, "vector {}", vector.name);
            assert_eq!(out.is_some(), !vector.counts.is_empty(), "vector {}", vector.name);
        }
    }

    #[test]
    fn user_patterns_run_after_shared_ones() {
        let redactor = Redactor::new(&[r"employee_id=EMP-\d{6}".to_string()]).unwrap();
        let mut tally = Tally::default();
        let out = redactor.redact("user EMP-123456 password=letmein", &mut tally).unwrap();
        assert_eq!(out, "user [REDACTED:employee_id] password=[REDACTED:secret_pair]");
        assert_eq!(tally.by_type.iter().sum::<u64>(), 2);
    }

    #[test]
    fn bad_user_patterns_are_reported() {
        assert!(Redactor::new(&["nope".into()]).err().unwrap().contains("TYPE=REGEX"));
        assert!(Redactor::new(&["Bad=x".into()]).err().unwrap().contains("type name"));
        assert!(Redactor::new(&["ok=(".into()]).err().unwrap().contains("invalid regex"));
    }

    #[test]
    fn key_printed_line_by_line_is_redacted_through_end() {
        let redactor = Redactor::new(&[]).unwrap();
        let mut tally = Tally::default();
        let mut in_key = false;
        let lines = [
            "writing key -----BEGIN RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA7bq1xFAKE",
            "QmFzZTY0RmFrZUtleU1hdGVyaWFs==",
            "-----END RSA PRIVATE KEY----- done token=abc123",
            "next line is plain",
        ];
        let out: Vec<String> = lines
            .iter()
            .map(|l| redactor.redact_line(l, &mut in_key, &mut tally).unwrap_or_else(|| l.to_string()))
            .collect();
        assert_eq!(out[0], "writing key [REDACTED:private_key]");
        assert_eq!(out[1], "[REDACTED:private_key]");
        assert_eq!(out[2], "[REDACTED:private_key]");
        assert_eq!(out[3], "[REDACTED:private_key] done token=[REDACTED:secret_pair]");
        assert_eq!(out[4], "next line is plain");
        assert!(!in_key);
    }

    #[test]
    fn key_block_ends_at_a_line_that_is_not_key_material() {
        let redactor = Redactor::new(&[]).unwrap();
        let (mut tally, mut in_key) = (Tally::default(), false);
        redactor.redact_line("-----BEGIN PRIVATE KEY-----", &mut in_key, &mut tally);
        assert!(in_key);
        assert!(redactor.redact_line("ERROR: key truncated, aborting", &mut in_key, &mut tally).is_none());
        assert!(!in_key);
    }
}
