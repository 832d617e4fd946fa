//! The one record type every source produces (schema v1, `schemas/record.schema.json`).
//! Fields borrow where they can: a log record is encoded straight from the file's
//! metadata and the line's text, without copying either.

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

pub type Text<'a> = Cow<'a, str>;

/// The free string map, kept as pairs (usually one or two) and written as a JSON object.
#[derive(Debug, Clone, Default)]
pub struct Labels<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl<'a> Labels<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, key: impl Into<Text<'a>>, value: impl Into<Text<'a>>) {
        self.0.push((key.into(), value.into()));
    }

    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }
}

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[derive(serde::Serialize, Debug, Clone, Default)]
pub struct Record<'a> {
    pub v: u8,
    pub id: String,
    pub kind: &'static str,
    pub ts: Text<'a>,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'static str>,
    pub message: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels<'a>,
    pub redactions: u32,
}

impl<'a> Record<'a> {
    pub fn new(kind: &'static str, id: String, ts: impl Into<Text<'a>>, message: impl Into<Text<'a>>) -> Record<'a> {
        Record { v: 1, id, kind, ts: ts.into(), source: "agent", message: message.into(), ..Record::default() }
    }

    /// Metric values, dropping NaN and infinities (JSON has no number for them).
    pub fn with_metrics(mut self, metrics: BTreeMap<String, f64>) -> Record<'a> {
        self.metrics = Some(metrics.into_iter().filter(|(_, v)| v.is_finite()).collect());
        self
    }

    /// One JSON line (no newline) appended to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("a record always serialises");
    }
}

/// A stable hex id: the same parts always give the same id, so a re-delivered
/// record is recognisably the same record.
pub fn record_id(parts: &[&[u8]]) -> String {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(part);
        hasher.update(&[0]);
    }
    let hex = hex_id(hasher.digest128());
    String::from_utf8(hex.to_vec()).expect("hex is ASCII")
}

/// `record_id` of parts already joined, each followed by a 0 byte (one-shot, no allocation).
pub fn record_id_joined(joined: &[u8]) -> [u8; 32] {
    hex_id(xxh3_128(joined))
}

fn hex_id(digest: u128) -> [u8; 32] {
    let mut hex = [0u8; 32];
    for (i, byte) in digest.to_be_bytes().into_iter().enumerate() {
        hex[2 * i] = HEX[usize::from(byte >> 4)];
        hex[2 * i + 1] = HEX[usize::from(byte & 15)];
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What each byte becomes in a JSON string, as serde_json writes it: 0 = itself,
/// `u` = `\u00XX`, anything else = a backslash and that letter.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Flags (the high bit of each byte) the bytes that are control characters, `"` or `\\`;
/// the lowest flag is exact (borrows can only flag bytes above a real one).
#[inline]
fn escape_flags(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    below_space | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')))
}

/// `text` as a quoted JSON string appended to `out`, byte for byte what serde_json writes.
pub fn push_json_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        // Skip 8 bytes at a time to the next byte that needs an escape, then the tail bytewise.
        let mut found = false;
        while i + 8 <= bytes.len() {
            let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
            let flags = escape_flags(word);
            if flags != 0 {
                i += (flags.trailing_zeros() / 8) as usize;
                found = true;
                break;
            }
            i += 8;
        }
        if !found {
            while i < bytes.len() && ESCAPE[usize::from(bytes[i])] == 0 {
                i += 1;
            }
            if i >= bytes.len() {
                break;
            }
        }
        let byte = bytes[i];
        let escape = ESCAPE[usize::from(byte)];
        debug_assert!(escape != 0);
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The parts of a log record that are the same for every line of one file, encoded once.
#[derive(Debug, Default)]
pub struct FileFields {
    /// `,"source":"agent","node":…,"namespace":…,"pod":…,"container":…`
    fixed: Vec<u8>,
    /// `,"labels":{"pod_uid":…`
    labels: Vec<u8>,
}

impl FileFields {
    pub fn new(node: &str, namespace: &str, pod: &str, container: &str, pod_uid: &str) -> FileFields {
        let mut fixed = b",\"source\":\"agent\",\"node\":".to_vec();
        push_json_str(&mut fixed, node);
        fixed.extend_from_slice(b",\"namespace\":");
        push_json_str(&mut fixed, namespace);
        fixed.extend_from_slice(b",\"pod\":");
        push_json_str(&mut fixed, pod);
        fixed.extend_from_slice(b",\"container\":");
        push_json_str(&mut fixed, container);
        let mut labels = b",\"labels\":{\"pod_uid\":".to_vec();
        push_json_str(&mut labels, pod_uid);
        FileFields { fixed, labels }
    }
}

/// A log record, written straight into `out` (no newline): the same bytes as
/// `Record::encode_into` with the file's fields, a `pod_uid` label and then each flag
/// label set to "true", without building a `Record`.
pub struct LogRecord<'a> {
    pub id: &'a [u8; 32],
    pub ts: &'a str,
    pub fields: &'a FileFields,
    pub stream: Option<&'static str>,
    pub message: &'a str,
    pub flags: &'a [&'static str],
    pub redactions: u32,
}

impl LogRecord<'_> {
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"v\":1,\"id\":\"");
        out.extend_from_slice(self.id);
        out.extend_from_slice(b"\",\"kind\":\"log\",\"ts\":");
        push_json_str(out, self.ts);
        out.extend_from_slice(&self.fields.fixed);
        if let Some(stream) = self.stream {
            out.extend_from_slice(b",\"stream\":");
            push_json_str(out, stream);
        }
        out.extend_from_slice(b",\"message\":");
        push_json_str(out, self.message);
        out.extend_from_slice(&self.fields.labels);
        for flag in self.flags {
            out.push(b',');
            push_json_str(out, flag);
            out.extend_from_slice(b":\"true\"");
        }
        out.extend_from_slice(b"},\"redactions\":");
        let mut digits = [0u8; 10];
        let mut n = self.redactions;
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[at..]);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_part_sensitive() {
        let a = record_id(&[b"log", b"uid", b"42"]);
        assert_eq!(a, record_id(&[b"log", b"uid", b"42"]));
        assert_ne!(a, record_id(&[b"log", b"uid4", b"2"]));
        assert_eq!(a.len(), 32);
        assert_eq!(a, format!("{:032x}", {
            let mut h = Xxh3::new();
            h.update(b"log\0uid\042\0");
            h.digest128()
        }));
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn encodes_schema_fields_only_when_set() {
        let mut record = Record::new("log", record_id(&[b"x"]), "2026-11-29T00:00:00Z", "hi \"there\"");
        record.stream = Some("stdout");
        let mut out = Vec::new();
        record.encode_into(&mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["source"], "agent");
        assert_eq!(value["message"], "hi \"there\"");
        assert!(value.get("node").is_none() && value.get("labels").is_none() && value.get("metrics").is_none());
        record.labels.insert("pod_uid", String::from("u-1"));
        out.clear();
        record.encode_into(&mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["labels"], serde_json::json!({"pod_uid": "u-1"}));
    }

    #[test]
    fn non_finite_metrics_are_dropped() {
        let metrics = BTreeMap::from([("a".to_string(), 1.5), ("b".to_string(), f64::NAN)]);
        let record = Record::new("metric", "00".repeat(8), "2026-11-29T00:00:00Z", "").with_metrics(metrics);
        assert_eq!(record.metrics.unwrap().len(), 1);
    }

    #[test]
    fn json_strings_are_escaped_like_serde_json() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain ascii text that is long enough for words".into(),
            "quote \" and backslash \\ and \u{7f} del".into(),
            "caf\u{e9} \u{1f600} \u{2028} \u{fffd}".into(),
        ];
        let all: String = (0u8..0x80).map(char::from).collect();
        samples.push(all.clone());
        for shift in 0..9 {
            samples.push(format!("{}{}{}", "x".repeat(shift), all, "y".repeat(shift)));
        }
        for byte in 0u8..0x80 {
            for at in 0..17 {
                let mut text = "abcdefghijklmnopq".to_string();
                text.insert(at, char::from(byte));
                samples.push(text);
            }
        }
        for text in samples {
            let mut ours = Vec::new();
            push_json_str(&mut ours, &text);
            assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn log_records_encode_like_the_generic_record() {
        for (stream, flags, redactions, message) in [
            (Some("stdout"), vec![], 0u32, "hello \"world\"\n"),
            (None, vec!["malformed", "invalid_utf8"], 1234567, "\u{1}x"),
            (Some("stderr"), vec!["truncated"], 4294967295, ""),
        ] {
            let id = record_id_joined(b"log\0uid\0c\0");
            assert_eq!(&id[..], record_id(&[b"log", b"uid", b"c"]).as_bytes());
            let mut generic = Record::new("log", record_id(&[b"log", b"uid", b"c"]), "2026-11-29T00:00:00.5Z", message);
            generic.node = Some("n\"ode".into());
            generic.namespace = Some("ns".into());
            generic.pod = Some("p\\od".into());
            generic.container = Some("c".into());
            generic.stream = stream;
            generic.labels.insert("pod_uid", "u\t2");
            for flag in &flags {
                generic.labels.insert(*flag, "true");
            }
            generic.redactions = redactions;
            let mut expected = Vec::new();
            generic.encode_into(&mut expected);
            let fields = FileFields::new("n\"ode", "ns", "p\\od", "c", "u\t2");
            let direct = LogRecord { id: &id, ts: "2026-11-29T00:00:00.5Z", fields: &fields, stream, message, flags: &flags, redactions };
            let mut ours = Vec::new();
            direct.encode_into(&mut ours);
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(expected).unwrap());
        }
    }
}
