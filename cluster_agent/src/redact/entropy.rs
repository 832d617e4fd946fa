//! The high-entropy backstop (`entropy.algorithm` in the vectors file; the Python twin is
//! `kubetrainer.redact_entropy`): a long random-looking token shortly after a word like
//! key, secret, token or auth is replaced, while UUIDs, trace ids, digests, git SHAs and
//! model names (words, not random text) are kept.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::Deserialize;

/// base64 of "-----BEGIN": a PEM block in base64; keys in that form have their own pattern.
const BASE64_PEM: &str = "LS0tLS1CRUdJTi";

#[derive(Deserialize)]
pub struct EntropyEntry {
    #[serde(rename = "type")]
    pub kind: String,
    keywords: Vec<String>,
    window: usize,
    min_length: usize,
    min_bits: f64,
    min_class_changes: f64,
    hex_min_length: usize,
    hex_min_bits: f64,
}

pub struct Entropy {
    pub keywords: Vec<String>,
    finder: AhoCorasick,
    token: Regex,
    rule: EntropyEntry,
}

impl Entropy {
    pub fn new(rule: EntropyEntry) -> Result<Entropy, String> {
        let keywords = rule.keywords.iter().map(|k| k.to_ascii_lowercase()).collect::<Vec<_>>();
        let finder = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&keywords)
            .map_err(|e| format!("entropy keywords: {e}"))?;
        let token = Regex::new(r"[A-Za-z0-9+/_-]+={0,2}").expect("static regex");
        Ok(Entropy { keywords, finder, token, rule })
    }

    /// The byte spans of the tokens to replace, in order.
    pub fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        let mut ends: Vec<usize> = self.finder.find_overlapping_iter(text).map(|m| m.end()).collect();
        ends.sort_unstable();
        if ends.is_empty() {
            return Vec::new();
        }
        let shortest = self.rule.min_length.min(self.rule.hex_min_length);
        self.token
            .find_iter(text)
            .filter(|m| m.len() >= shortest && self.qualifies(text, m.start(), m.as_str(), &ends))
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    fn qualifies(&self, text: &str, start: usize, token: &str, ends: &[usize]) -> bool {
        // `ends` is sorted: the nearest keyword end at or before the token, in O(log n).
        let Some(&keyword_end) = ends[..ends.partition_point(|&end| end <= start)].last() else { return false };
        if token.starts_with(BASE64_PEM) {
            return false;
        }
        let gap = &text[keyword_end..start];
        if gap.len() > 4 * self.rule.window || gap.chars().count() > self.rule.window || gap.contains('\n') {
            return false;
        }
        let bytes = token.as_bytes();
        if bytes.iter().all(u8::is_ascii_hexdigit) {
            let assigned = gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'\\' | b':' | b'='))
                && (gap.contains(':') || gap.contains('='));
            return assigned && token.len() >= self.rule.hex_min_length && shannon_bits(bytes) >= self.rule.hex_min_bits;
        }
        let has = |f: fn(&u8) -> bool| bytes.iter().any(f);
        let mixed = has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_digit);
        mixed
            && token.len() >= self.rule.min_length
            && class_changes(bytes) >= self.rule.min_class_changes
            && shannon_bits(bytes) >= self.rule.min_bits
    }
}

fn char_class(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => 1,
        b'A'..=b'Z' => 2,
        b'0'..=b'9' => 3,
        _ => 0,
    }
}

/// Among neighbouring letters and digits, the fraction whose classes (lower, upper, digit) differ.
pub fn class_changes(token: &[u8]) -> f64 {
    let (mut pairs, mut changes) = (0u32, 0u32);
    for pair in token.windows(2) {
        let (a, b) = (char_class(pair[0]), char_class(pair[1]));
        if a != 0 && b != 0 {
            pairs += 1;
            changes += u32::from(a != b);
        }
    }
    if pairs == 0 {
        0.0
    } else {
        f64::from(changes) / f64::from(pairs)
    }
}

/// Bits per character, summed in code-point order like the Python twin (same IEEE result).
pub fn shannon_bits(token: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in token {
        counts[b as usize] += 1;
    }
    let n = token.len() as f64;
    let mut sum = 0.0;
    for &count in counts.iter().filter(|&&c| c > 0) {
        let c = f64::from(count);
        sum += c * c.log2();
    }
    n.log2() - sum / n
}
