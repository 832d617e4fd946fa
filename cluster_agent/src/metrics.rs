//! The agent's own health: counters shared by all components, rendered as
//! Prometheus text on `/metrics`, with `/healthz`, on a tiny blocking HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

pub struct Metrics {
    pub lines_read: AtomicU64,
    pub bytes_read: AtomicU64,
    pub records_log: AtomicU64,
    pub records_metric: AtomicU64,
    pub records_gpu: AtomicU64,
    pub batches_delivered: AtomicU64,
    pub delivery_retries: AtomicU64,
    pub rejected_batches: AtomicU64,
    pub spool_bytes: AtomicU64,
    pub open_files: AtomicU64,
    pub checkpoint_writes: AtomicU64,
    pub malformed_lines: AtomicU64,
    pub invalid_utf8_lines: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub errors: AtomicU64,
    redactions: Mutex<Vec<(String, u64)>>,
}

pub static METRICS: Metrics = Metrics {
    lines_read: AtomicU64::new(0),
    bytes_read: AtomicU64::new(0),
    records_log: AtomicU64::new(0),
    records_metric: AtomicU64::new(0),
    records_gpu: AtomicU64::new(0),
    batches_delivered: AtomicU64::new(0),
    delivery_retries: AtomicU64::new(0),
    rejected_batches: AtomicU64::new(0),
    spool_bytes: AtomicU64::new(0),
    open_files: AtomicU64::new(0),
    checkpoint_writes: AtomicU64::new(0),
    malformed_lines: AtomicU64::new(0),
    invalid_utf8_lines: AtomicU64::new(0),
    truncated_lines: AtomicU64::new(0),
    errors: AtomicU64::new(0),
    redactions: Mutex::new(Vec::new()),
};

impl Metrics {
    /// Replace the redaction counts (by type name) with the pipeline's running totals.
    pub fn set_redactions(&self, names: &[String], counts: &[u64]) {
        let mut table = self.redactions.lock().unwrap_or_else(|e| e.into_inner());
        *table = names.iter().cloned().zip(counts.iter().copied().chain(std::iter::repeat(0))).collect();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            out.push_str(&format!("# HELP kubetrainer_agent_{name} {help}\n# TYPE kubetrainer_agent_{name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("kubetrainer_agent_{name}{labels} {value}\n"));
            }
        };
        let get = |c: &AtomicU64| c.load(Relaxed);
        counter("lines_read_total", "counter", "Log lines read.", &[("", get(&self.lines_read))]);
        counter("bytes_read_total", "counter", "Log bytes read.", &[("", get(&self.bytes_read))]);
        let (log, metric, gpu) = (get(&self.records_log), get(&self.records_metric), get(&self.records_gpu));
        counter(
            "records_written_total",
            "counter",
            "Records delivered, by kind.",
            &[("{kind=\"log\"}", log), ("{kind=\"metric\"}", metric), ("{kind=\"gpu\"}", gpu)],
        );
        counter("batches_delivered_total", "counter", "Batches made safe by the sink.", &[("", get(&self.batches_delivered))]);
        counter("delivery_retries_total", "counter", "Failed delivery attempts that will be retried.", &[("", get(&self.delivery_retries))]);
        counter("rejected_batches_total", "counter", "Batches the receiver refused for good (kept in state-dir/rejected).", &[("", get(&self.rejected_batches))]);
        counter("spool_bytes", "gauge", "Bytes spooled on disk awaiting delivery.", &[("", get(&self.spool_bytes))]);
        counter("open_files", "gauge", "Log files being read.", &[("", get(&self.open_files))]);
        counter("checkpoint_writes_total", "counter", "Checkpoints saved.", &[("", get(&self.checkpoint_writes))]);
        let errors = [
            ("{kind=\"malformed_line\"}", get(&self.malformed_lines)),
            ("{kind=\"invalid_utf8\"}", get(&self.invalid_utf8_lines)),
            ("{kind=\"truncated_line\"}", get(&self.truncated_lines)),
            ("{kind=\"io\"}", get(&self.errors)),
        ];
        counter("errors_total", "counter", "Problems met and survived, by kind.", &errors);
        let table = self.redactions.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let labels: Vec<(String, u64)> = table.iter().map(|(t, n)| (format!("{{type=\"{t}\"}}"), *n)).collect();
        let samples: Vec<(&str, u64)> = labels.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        counter("redactions_total", "counter", "Secrets removed, by type.", &samples);
        out
    }
}

/// Serve `/healthz` and `/metrics` on `addr` from a background thread.
pub fn serve(addr: &str) -> Result<std::net::SocketAddr, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("--metrics-addr {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut request_line = String::new();
            let mut reader = BufReader::new(&stream);
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                "/healthz" => ("200 OK", "ok\n".to_string()),
                "/metrics" => ("200 OK", METRICS.render()),
                _ => ("404 Not Found", "not found\n".to_string()),
            };
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn serves_health_and_prometheus_text() {
        METRICS.set_redactions(&["jwt".to_string()], &[3]);
        let addr = serve("127.0.0.1:0").unwrap();
        let fetch = |path: &str| {
            let mut conn = std::net::TcpStream::connect(addr).unwrap();
            write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).unwrap();
            text
        };
        assert!(fetch("/healthz").ends_with("\r\n\r\nok\n"));
        let metrics = fetch("/metrics");
        assert!(metrics.contains("kubetrainer_agent_redactions_total{type=\"jwt\"} 3"));
        assert!(metrics.contains("# TYPE kubetrainer_agent_lines_read_total counter"));
        assert!(fetch("/nope").starts_with("HTTP/1.1 404"));
    }
}
