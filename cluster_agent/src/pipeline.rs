//! The agent's loop: sources -> redaction -> batch -> sink, and the rule that keeps
//! delivery lossless: read positions are checkpointed only after the sink has made
//! every record before them safe.

use crate::checkpoint::{self, State};
use crate::config::{Config, Output};
use crate::metrics::METRICS;
use crate::record::{record_id, record_id_joined, FileFields, LogRecord, Record};
use crate::redact::{Redactor, Tally};
use crate::sink::{FileSink, HttpOptions, HttpSink, Sink, StdoutSink};
use crate::tailer::{LogFile, LogLine};
use crate::telemetry::{gpu::Gpus, kmsg::KernelLog, node};
use crate::{logs::LogSource, timefmt};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Bytes read from one file before moving to the next (fairness and bounded memory).
const READ_PER_FILE: usize = 256 * 1024;
const IDLE_SLEEP: Duration = Duration::from_millis(100);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Default, Clone, Copy)]
struct KindCounts {
    log: u64,
    metric: u64,
    gpu: u64,
}

pub struct Pipeline {
    cfg: Config,
    redactor: Redactor,
    tally: Tally,
    logs: LogSource,
    sink: Box<dyn Sink>,
    state: State,
    gpus: Option<Gpus>,
    kernel_log: Option<KernelLog>,
    pending_kmsg: Option<(String, u64)>,
    batch: Vec<u8>,
    batch_kinds: KindCounts,
    delivered: KindCounts,
    id_buf: Vec<u8>,
}

impl Pipeline {
    /// Everything that can fail because of configuration fails here, before any work.
    pub fn new(cfg: Config) -> Result<Pipeline, String> {
        let redactor = Redactor::new(&cfg.redact_patterns).map_err(|e| format!("--redact-pattern: {e}"))?;
        let state = checkpoint::load(&cfg.state_dir)?;
        let sink: Box<dyn Sink> = match &cfg.output {
            Output::Stdout => Box::new(StdoutSink),
            Output::File(dir) => Box::new(FileSink::new(dir, &cfg.node_name, cfg.file_max_bytes, cfg.file_max_age)?),
            Output::Http(url) => Box::new(HttpSink::new(HttpOptions {
                url: url.clone(),
                token_file: cfg.bearer_token_file.clone(),
                timeout: cfg.http_timeout,
                state_dir: cfg.state_dir.clone(),
                spool_max_bytes: cfg.spool_max_bytes,
                backoff_initial: cfg.retry_initial,
                backoff_max: cfg.retry_max,
                drain_timeout: cfg.drain_timeout,
            })?),
        };
        let gpus = if cfg.gpu && cfg.telemetry_interval.is_some() { Gpus::open().map_err(|e| eprintln!("kubetrainer-agent: {e}; no GPU telemetry")).ok() } else { None };
        let kernel_log = match (&cfg.kmsg, gpus.is_some()) {
            (Some(path), true) => KernelLog::open(path, &cfg.proc_dir).map_err(|e| eprintln!("kubetrainer-agent: kernel log: {e}; no Xid records")).ok(),
            _ => None,
        };
        let logs = LogSource::new(cfg.pods_dir.clone(), cfg.filters.clone(), cfg.max_line_bytes, state.files.clone());
        let pending_kmsg = state.kmsg.clone();
        Ok(Pipeline {
            cfg,
            redactor,
            tally: Tally::default(),
            logs,
            sink,
            state,
            gpus,
            kernel_log,
            pending_kmsg,
            batch: Vec::new(),
            batch_kinds: KindCounts::default(),
            delivered: KindCounts::default(),
            id_buf: Vec::new(),
        })
    }

    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), String> {
        if self.cfg.once {
            return self.run_once(stop);
        }
        let now = Instant::now();
        let (mut next_scan, mut next_flush, mut next_sample) = (now, now + self.cfg.flush_interval, now);
        let mut stalled = false;
        while !stop.load(Relaxed) {
            let now = Instant::now();
            if now >= next_scan {
                self.logs.scan();
                METRICS.open_files.store(self.logs.open_files() as u64, Relaxed);
                next_scan = now + self.cfg.scan_interval;
            }
            let mut progress = false;
            if !stalled && self.batch.len() < self.cfg.batch_bytes {
                progress = self.read_logs() > 0;
            }
            if let Some(interval) = self.cfg.telemetry_interval.filter(|_| now >= next_sample && !stalled) {
                self.sample_telemetry();
                next_sample = now + interval;
            }
            if !self.batch.is_empty() && (self.batch.len() >= self.cfg.batch_bytes || now >= next_flush || stalled) {
                stalled = !self.try_flush();
                next_flush = now + self.cfg.flush_interval;
            }
            self.sink.tick();
            if !progress {
                std::thread::sleep(IDLE_SLEEP);
            }
        }
        self.flush_until(Instant::now() + SHUTDOWN_GRACE, stop)?;
        self.sink.finish()
    }

    /// Read everything present, take one sample, deliver, publish, exit.
    fn run_once(&mut self, stop: &AtomicBool) -> Result<(), String> {
        self.logs.scan();
        while self.read_logs() > 0 {
            if self.batch.len() >= self.cfg.batch_bytes {
                self.flush_until(Instant::now() + Duration::from_secs(86_400), stop)?;
            }
        }
        if self.cfg.telemetry_interval.is_some() {
            self.sample_telemetry();
        }
        self.flush_until(Instant::now() + Duration::from_secs(86_400), stop)?;
        let finished = self.sink.finish();
        let d = self.delivered;
        let redactions: u64 = self.tally.by_type.iter().sum();
        eprintln!(
            "kubetrainer-agent: {} records ({} log, {} metric, {} gpu) from {} lines, {redactions} secrets redacted",
            d.log + d.metric + d.gpu,
            d.log,
            d.metric,
            d.gpu,
            self.logs.counts.lines
        );
        finished
    }

    fn read_logs(&mut self) -> usize {
        let per_file = READ_PER_FILE.min(self.cfg.batch_bytes);
        let Pipeline { logs, redactor, tally, batch, batch_kinds, cfg, id_buf, .. } = self;
        let n = logs.read(per_file, cfg.batch_bytes, |file, line| {
            push_log(file, line, redactor, tally, batch, id_buf, &cfg.node_name);
            batch_kinds.log += 1;
        });
        METRICS.bytes_read.fetch_add(n as u64, Relaxed);
        n
    }

    fn push(&mut self, record: &Record) {
        record.encode_into(&mut self.batch);
        self.batch.push(b'\n');
        match record.kind {
            "log" => self.batch_kinds.log += 1,
            "gpu" => self.batch_kinds.gpu += 1,
            _ => self.batch_kinds.metric += 1,
        }
    }

    fn sample_telemetry(&mut self) {
        let ts = timefmt::now_utc();
        let node = self.cfg.node_name.clone();
        let (metrics, summary) = node::sample(&self.cfg.proc_dir, &self.cfg.root_dir);
        let mut record = Record::new("metric", record_id(&[b"metric", node.as_bytes(), ts.as_bytes()]), ts.as_str(), summary).with_metrics(metrics);
        record.node = Some(node.as_str().into());
        record.labels.insert("sampler", "node");
        self.push(&record);
        if let Some(gpus) = &self.gpus {
            for record in crate::telemetry::gpu::records(&gpus.read(), &node, &ts, &gpus.driver_version) {
                self.push(&record);
            }
        }
        if let Some(log) = &mut self.kernel_log {
            let after = self.pending_kmsg.as_ref().filter(|(boot, _)| boot == log.boot_id()).map(|(_, seq)| *seq);
            let (records, last) = log.read_xids(&node, after);
            if let Some(seq) = last {
                self.pending_kmsg = Some((log.boot_id().to_string(), seq));
            }
            for record in &records {
                self.push(record);
            }
        }
    }

    /// One delivery attempt; on success the checkpoint moves forward.
    fn try_flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let kinds = self.batch_kinds;
        let records = (kinds.log + kinds.metric + kinds.gpu) as usize;
        if let Err(why) = self.sink.deliver(&self.batch, records) {
            METRICS.delivery_retries.fetch_add(1, Relaxed);
            eprintln!("kubetrainer-agent: batch not delivered yet: {}", why.0);
            return false;
        }
        self.batch.clear();
        self.batch_kinds = KindCounts::default();
        self.delivered.log += kinds.log;
        self.delivered.metric += kinds.metric;
        self.delivered.gpu += kinds.gpu;
        METRICS.records_log.fetch_add(kinds.log, Relaxed);
        METRICS.records_metric.fetch_add(kinds.metric, Relaxed);
        METRICS.records_gpu.fetch_add(kinds.gpu, Relaxed);
        METRICS.lines_read.store(self.logs.counts.lines, Relaxed);
        METRICS.malformed_lines.store(self.logs.counts.malformed, Relaxed);
        METRICS.invalid_utf8_lines.store(self.logs.counts.invalid_utf8, Relaxed);
        METRICS.truncated_lines.store(self.logs.counts.truncated, Relaxed);
        METRICS.spool_bytes.store(self.sink.spooled_bytes(), Relaxed);
        METRICS.set_redactions(self.redactor.type_names(), &self.tally.by_type);
        self.state.version = 1;
        self.state.files = self.logs.entries();
        self.state.kmsg.clone_from(&self.pending_kmsg);
        match checkpoint::save(&self.cfg.state_dir, &self.state) {
            Ok(()) => {
                METRICS.checkpoint_writes.fetch_add(1, Relaxed);
            }
            Err(e) => {
                // Delivered but not recorded: a restart re-sends these records (same ids).
                METRICS.errors.fetch_add(1, Relaxed);
                eprintln!("kubetrainer-agent: saving checkpoint in {}: {e}", self.cfg.state_dir.display());
            }
        }
        true
    }

    fn flush_until(&mut self, deadline: Instant, stop: &AtomicBool) -> Result<(), String> {
        while !self.try_flush() {
            if Instant::now() >= deadline || (stop.load(Relaxed) && !self.cfg.once) {
                return Err("stopping with an undelivered batch; its lines are read again on restart".into());
            }
            self.sink.tick();
            std::thread::sleep(IDLE_SLEEP);
        }
        Ok(())
    }
}

/// One log line as a record: redacted (the file carries the stream's key-block state)
/// and encoded into `batch`.
fn push_log(file: &mut LogFile, line: &LogLine, redactor: &Redactor, tally: &mut Tally, batch: &mut Vec<u8>, id_buf: &mut Vec<u8>, node: &str) {
    let meta = &*file.meta;
    // The record id of parts "log", uid, container, fingerprint, offset (see `record_id`).
    id_buf.clear();
    for part in [&b"log"[..], meta.uid.as_bytes(), meta.container.as_bytes(), &file.fingerprint.to_le_bytes(), &line.offset.to_le_bytes()] {
        id_buf.extend_from_slice(part);
        id_buf.push(0);
    }
    let id = record_id_joined(id_buf);
    let before: u64 = tally.by_type.iter().sum();
    let in_key = &mut file.in_key[line.stream.map_or(0, |s| s.index())];
    let redacted = redactor.redact_line(&line.message.text, in_key, tally);
    let redactions = (tally.by_type.iter().sum::<u64>() - before) as u32;
    let mut flags = [""; 3];
    let mut n_flags = 0;
    for (flag, set) in [("malformed", line.malformed), ("truncated", line.message.truncated), ("invalid_utf8", line.message.invalid_utf8)] {
        if set {
            flags[n_flags] = flag;
            n_flags += 1;
        }
    }
    let fields = file.record_fields.get_or_insert_with(|| Box::new(FileFields::new(node, &meta.namespace, &meta.pod, &meta.container, &meta.uid)));
    LogRecord {
        id: &id,
        ts: &line.ts,
        fields,
        stream: line.stream.map(|s| s.as_str()),
        message: redacted.as_deref().unwrap_or(&line.message.text),
        flags: &flags[..n_flags],
        redactions,
    }
    .encode_into(batch);
    batch.push(b'\n');
}
