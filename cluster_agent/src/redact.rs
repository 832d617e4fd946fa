//! Secret redaction, driven by the packaged `redaction-vectors.json` (shared with
//! `kubetrainer.redact` in Python; both test suites run every vector).
//!
//! Speed matters here (every log line passes through): one Aho-Corasick scan for
//! the patterns' and the entropy backstop's keywords decides which can match at all,
//! so a line with no keyword costs one linear scan and no allocation.

mod entropy;
mod keyblock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use entropy::{Entropy, EntropyEntry};
use keyblock::KeyBlock;
use regex::Regex;
use serde::Deserialize;

/// The shared pattern file (the one copy, Python package data), compiled into the binary
/// so the agent, the Python readers and both test suites agree.
pub const SHARED_PATTERNS: &str = include_str!("../../src/kubetrainer/schemas/redaction-vectors.json");
const MARKER: &str = "[REDACTED:";
const KEY_TYPE: &str = "private_key";
/// `keyword_pattern` entry of an entropy keyword: it selects the backstop, not a pattern.
const ENTROPY: usize = usize::MAX;

#[derive(Deserialize)]
struct PatternFile {
    patterns: Vec<PatternEntry>,
    entropy: Option<EntropyEntry>,
}

#[derive(Deserialize)]
struct PatternEntry {
    #[serde(rename = "type")]
    kind: String,
    regex: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    not_secrets: Vec<String>,
}

struct Pattern {
    type_index: usize,
    regex: Regex,
    secret_group: Option<usize>,
    /// Lower case: values the secret never is (`false` in `allow_credentials=False`).
    not_secrets: Vec<String>,
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
    keys: KeyBlock,
    key_type: usize,
    entropy: Option<(Entropy, usize)>,
    /// Whether the keywords hold the key block's END_TAIL (case-insensitively, so any line
    /// that holds it matches a keyword).
    end_tail_is_keyword: bool,
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
            entries.push(PatternEntry {
                kind: kind.trim().to_string(),
                regex: regex.to_string(),
                keywords: vec![],
                not_secrets: vec![],
            });
        }
        Self::from_entries(entries, file.entropy)
    }

    fn from_entries(entries: Vec<PatternEntry>, entropy: Option<EntropyEntry>) -> Result<Redactor, String> {
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
            let type_index = Self::type_index(&mut type_names, &entry.kind);
            if entry.keywords.is_empty() {
                always.push(index);
            }
            for word in entry.keywords {
                words.push(word);
                keyword_pattern.push(index);
            }
            let not_secrets = entry.not_secrets.iter().map(|value| value.to_ascii_lowercase()).collect();
            patterns.push(Pattern { type_index, regex, secret_group, not_secrets });
        }
        let entropy = match entropy {
            Some(entry) => {
                let type_index = Self::type_index(&mut type_names, &entry.kind);
                let backstop = Entropy::new(entry)?;
                for word in &backstop.keywords {
                    words.push(word.clone());
                    keyword_pattern.push(ENTROPY);
                }
                Some((backstop, type_index))
            }
            None => None,
        };
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .map_err(|e| format!("redaction keywords: {e}"))?;
        let key_type = Self::type_index(&mut type_names, KEY_TYPE);
        let end_tail_is_keyword = keywords.is_match(keyblock::END_TAIL);
        Ok(Redactor { patterns, type_names, keywords, keyword_pattern, always, keys: KeyBlock::new(), key_type, entropy, end_tail_is_keyword })
    }

    fn type_index(type_names: &mut Vec<String>, name: &str) -> usize {
        type_names.iter().position(|n| n == name).unwrap_or_else(|| {
            type_names.push(name.to_string());
            type_names.len() - 1
        })
    }

    pub fn type_names(&self) -> &[String] {
        &self.type_names
    }

    /// `text` with its secrets replaced, or None when it holds none; counts go to `tally`.
    pub fn redact(&self, text: &str, tally: &mut Tally) -> Option<String> {
        if self.always.is_empty() && !self.keywords.is_match(text) {
            return None;
        }
        self.redact_matched(text, tally)
    }

    /// `redact` once the keyword scan has found a keyword (or patterns must always run).
    fn redact_matched(&self, text: &str, tally: &mut Tally) -> Option<String> {
        let mut flags = vec![false; self.patterns.len()];
        let mut backstop = false;
        for hit in self.keywords.find_overlapping_iter(text) {
            match self.keyword_pattern[hit.pattern().as_usize()] {
                ENTROPY => backstop = true,
                index => flags[index] = true,
            }
        }
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
        // Pattern markers hold keywords too ("private_key"), so the backstop looks again.
        if let Some((rule, type_index)) = self.entropy.as_ref().filter(|_| backstop || current.is_some()) {
            let source = current.as_deref().unwrap_or(text);
            let spans = rule.spans(source);
            if !spans.is_empty() {
                let mut out = String::with_capacity(source.len());
                let mut last = 0;
                for (start, end) in spans {
                    out.push_str(&source[last..start]);
                    self.push_marker(&mut out, *type_index);
                    tally.add(*type_index);
                    last = end;
                }
                out.push_str(&source[last..]);
                current = Some(out);
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
            if span.as_str().contains(MARKER)
                || pattern.not_secrets.iter().any(|value| value.eq_ignore_ascii_case(span.as_str()))
            {
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
    /// line by line, behind any prefix, is redacted from its BEGIN line through its END line.
    pub fn redact_line(&self, text: &str, in_key: &mut bool, tally: &mut Tally) -> Option<String> {
        // One keyword scan serves both steps: a line without any keyword (they include
        // the key block's `PRIVATE KEY-----`) cannot open a key block either.
        let hit = self.keywords.is_match(text);
        let (stepped, keys) = self.keys.step(text, in_key, hit || !self.end_tail_is_keyword);
        for _ in 0..keys {
            tally.add(self.key_type);
        }
        match stepped {
            Some(stepped) => Some(self.redact(&stepped, tally).unwrap_or(stepped)),
            None if hit || !self.always.is_empty() => self.redact_matched(text, tally),
            None => None,
        }
    }
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

    #[derive(Deserialize)]
    struct StreamVector {
        name: String,
        lines: Vec<String>,
        expected: Vec<String>,
        counts: BTreeMap<String, u64>,
    }

    #[derive(Deserialize)]
    struct Streams {
        vectors: Vec<StreamVector>,
    }

    #[derive(Deserialize)]
    struct StreamFile {
        streams: Streams,
    }

    #[test]
    fn every_shared_stream_vector() {
        let redactor = Redactor::new(&[]).unwrap();
        let file: StreamFile = serde_json::from_str(SHARED_PATTERNS).unwrap();
        assert!(file.streams.vectors.len() >= 5);
        for vector in file.streams.vectors {
            let (mut tally, mut in_key) = (Tally::default(), false);
            let out: Vec<String> = vector
                .lines
                .iter()
                .map(|l| redactor.redact_line(l, &mut in_key, &mut tally).unwrap_or_else(|| l.to_string()))
                .collect();
            assert_eq!(out, vector.expected, "stream vector {}", vector.name);
            assert_eq!(counts(&redactor, &tally), vector.counts, "stream vector {}", vector.name);
        }
    }

    #[test]
    fn key_state_survives_only_on_its_own_stream_flag() {
        let redactor = Redactor::new(&[]).unwrap();
        let (mut tally, mut stdout, mut stderr) = (Tally::default(), false, false);
        redactor.redact_line("tls: -----BEGIN PRIVATE KEY-----", &mut stdout, &mut tally);
        assert!(stdout);
        let body = "tls: MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        assert!(redactor.redact_line(body, &mut stderr, &mut tally).is_none());
        assert_eq!(redactor.redact_line(body, &mut stdout, &mut tally).unwrap(), "tls: [REDACTED:private_key]");
    }
}
