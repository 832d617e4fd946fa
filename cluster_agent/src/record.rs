//! The one record type every source produces (schema v1, `schemas/record.schema.json`).
//! Fields borrow where they can: a log record is encoded straight from the file's
//! metadata and the line's text, without copying either.

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use xxhash_rust::xxh3::Xxh3;

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
    let digest = hasher.digest128().to_be_bytes();
    let mut hex = String::with_capacity(32);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
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
}
