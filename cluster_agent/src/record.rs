//! The one record type every source produces (schema v1, `schemas/record.schema.json`).

use serde::Serialize;
use std::collections::BTreeMap;
use xxhash_rust::xxh3::xxh3_128;

#[derive(Serialize, Debug, Clone, Default)]
pub struct Record {
    pub v: u8,
    pub id: String,
    pub kind: &'static str,
    pub ts: String,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'static str>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub redactions: u32,
}

impl Record {
    pub fn new(kind: &'static str, id: String, ts: String, message: String) -> Record {
        Record { v: 1, id, kind, ts, source: "agent", message, ..Record::default() }
    }

    /// Metric values, dropping NaN and infinities (JSON has no number for them).
    pub fn with_metrics(mut self, metrics: BTreeMap<String, f64>) -> Record {
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
    let mut joined = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        joined.extend_from_slice(part);
        joined.push(0);
    }
    format!("{:032x}", xxh3_128(&joined))
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
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn encodes_schema_fields_only_when_set() {
        let mut record = Record::new("log", record_id(&[b"x"]), "2026-11-29T00:00:00Z".into(), "hi \"there\"".into());
        record.stream = Some("stdout");
        let mut out = Vec::new();
        record.encode_into(&mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["source"], "agent");
        assert_eq!(value["message"], "hi \"there\"");
        assert!(value.get("node").is_none() && value.get("labels").is_none() && value.get("metrics").is_none());
    }

    #[test]
    fn non_finite_metrics_are_dropped() {
        let metrics = BTreeMap::from([("a".to_string(), 1.5), ("b".to_string(), f64::NAN)]);
        let record = Record::new("metric", "00".repeat(8), "2026-11-29T00:00:00Z".into(), String::new()).with_metrics(metrics);
        assert_eq!(record.metrics.unwrap().len(), 1);
    }
}
