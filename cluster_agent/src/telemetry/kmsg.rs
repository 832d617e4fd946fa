//! NVIDIA Xid errors from the kernel log (`/dev/kmsg` records, `NVRM: Xid ...`
//! lines), for hosts where NVML events are not available to the agent.

use crate::record::{record_id, Record};
use crate::timefmt;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Debug, PartialEq, Eq)]
pub struct KmsgRecord<'a> {
    pub seq: u64,
    pub usec: u64,
    pub text: &'a str,
}

/// `<prio>,<seq>,<usec>,<flags>[,...];<text>` (continuation lines start with a space).
pub fn parse_record(line: &str) -> Option<KmsgRecord<'_>> {
    let (header, text) = line.split_once(';')?;
    let mut fields = header.split(',');
    let _priority = fields.next()?.parse::<u32>().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let usec = fields.next()?.parse().ok()?;
    Some(KmsgRecord { seq, usec, text })
}

/// `NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has fallen off the bus.` -> (PCI id, Xid).
pub fn parse_xid(text: &str) -> Option<(String, u32)> {
    let rest = &text[text.find("NVRM: Xid (")? + "NVRM: Xid (".len()..];
    let (device, rest) = rest.split_once("):")?;
    let pci = device.strip_prefix("PCI:").unwrap_or(device).to_string();
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    Some((pci, digits.parse().ok()?))
}

pub struct KernelLog {
    file: File,
    boot_id: String,
    boot_time: i64,
    pending: Vec<u8>,
}

impl KernelLog {
    pub fn open(path: &Path, proc_dir: &Path) -> Result<KernelLog, String> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let boot_id = std::fs::read_to_string(proc_dir.join("sys/kernel/random/boot_id")).unwrap_or_default().trim().to_string();
        let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        let boot_time = stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        Ok(KernelLog { file, boot_id, boot_time, pending: Vec::new() })
    }

    pub fn boot_id(&self) -> &str {
        &self.boot_id
    }

    /// Xid records after sequence number `after` (None = from the start), and the last sequence seen.
    pub fn read_xids<'a>(&mut self, node: &'a str, after: Option<u64>) -> (Vec<Record<'a>>, Option<u64>) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut records = Vec::new();
        let mut last = after;
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                // Records were overwritten before we read them; keep going.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            while let Some(newline) = memchr::memchr(b'\n', &self.pending) {
                let line: Vec<u8> = self.pending.drain(..=newline).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                let Some(entry) = parse_record(&line) else { continue };
                if after.is_some_and(|a| entry.seq <= a) {
                    continue;
                }
                last = Some(entry.seq);
                if let Some((pci, xid)) = parse_xid(entry.text) {
                    records.push(self.xid_record(node, &entry, &pci, xid));
                }
            }
        }
        (records, last)
    }

    fn xid_record<'a>(&self, node: &'a str, entry: &KmsgRecord<'_>, pci: &str, xid: u32) -> Record<'a> {
        let secs = self.boot_time + (entry.usec / 1_000_000) as i64;
        let ts = timefmt::format_utc(secs, &format!("{:06}", entry.usec % 1_000_000));
        let id = record_id(&[b"xid", self.boot_id.as_bytes(), entry.seq.to_string().as_bytes()]);
        let metrics = BTreeMap::from([("DCGM_FI_DEV_XID_ERRORS".to_string(), f64::from(xid))]);
        let mut record = Record::new("gpu", id, ts, entry.text.to_string()).with_metrics(metrics);
        record.node = Some(node.into());
        record.labels.insert("pci_bus_id", pci.to_string());
        record.labels.insert("source", "kmsg");
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KMSG: &str = "6,1201,5000000,-;eth0: link up\n SUBSYSTEM=net\n4,1202,7250000,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.\n4,1203,8000000,-;NVRM: Xid (PCI:0000:86:00): 13, pid='<unknown>', name=<unknown>, Graphics Exception: ESR 0x404600=0x80000002\n";

    #[test]
    fn parses_records_and_xids() {
        let record = parse_record("4,1202,7250000,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1").unwrap();
        assert_eq!((record.seq, record.usec), (1202, 7_250_000));
        assert_eq!(parse_xid(record.text), Some(("0000:3b:00".to_string(), 79)));
        assert_eq!(parse_xid("eth0: link up"), None);
        assert!(parse_record(" SUBSYSTEM=net").is_none());
    }

    #[test]
    fn reads_xid_records_after_a_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, KMSG).unwrap();
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel/random")).unwrap();
        std::fs::write(dir.path().join("proc/sys/kernel/random/boot_id"), "b-1\n").unwrap();
        std::fs::write(dir.path().join("proc/stat"), "btime 1764374400\n").unwrap();
        let mut log = KernelLog::open(&path, &dir.path().join("proc")).unwrap();
        let (records, last) = log.read_xids("n1", None);
        assert_eq!(records.len(), 2);
        assert_eq!(last, Some(1203));
        assert_eq!(records[0].metrics.as_ref().unwrap()["DCGM_FI_DEV_XID_ERRORS"], 79.0);
        assert_eq!(records[0].ts, "2025-11-29T00:00:07.250000Z");
        assert_eq!(records[1].labels.get("pci_bus_id"), Some("0000:86:00"));
        let mut again = KernelLog::open(&path, &dir.path().join("proc")).unwrap();
        let (records, _) = again.read_xids("n1", Some(1202));
        assert_eq!(records.len(), 1);
    }
}
