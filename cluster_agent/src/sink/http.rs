//! `http(s)://HOST/PATH`: gzipped NDJSON batches POSTed with a bearer token read
//! from a file. A batch the receiver does not take goes to a disk spool (bounded in
//! bytes) and is retried with exponential back-off and jitter; when the spool is
//! full, `deliver` refuses and the pipeline stops reading (back-pressure).

use super::spool::Spool;
use super::{Retry, Sink};
use crate::fsutil::write_atomic;
use crate::metrics::METRICS;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use xxhash_rust::xxh3::xxh3_64;

/// Batches re-sent from the spool per tick, so reading is not starved.
const SENDS_PER_TICK: usize = 16;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub url: String,
    pub token_file: Option<PathBuf>,
    pub timeout: Duration,
    pub state_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub drain_timeout: Duration,
}

enum Failure {
    /// Network error, 5xx, 408, 429, 401/403 (a token may be rotating): try again.
    Transient(String),
    /// Any other 4xx: the receiver will never take this batch.
    Permanent(String),
}

pub struct HttpSink {
    opts: HttpOptions,
    agent: ureq::Agent,
    spool: Spool,
    failures: u32,
    next_attempt: Instant,
    jitter_state: u64,
}

impl HttpSink {
    pub fn new(opts: HttpOptions) -> Result<HttpSink, String> {
        let spool = Spool::open(&opts.state_dir.join("spool"))?;
        let agent = ureq::AgentBuilder::new().timeout_connect(opts.timeout).timeout(opts.timeout).build();
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
        METRICS.spool_bytes.store(spool.bytes(), Relaxed);
        Ok(HttpSink { opts, agent, spool, failures: 0, next_attempt: Instant::now(), jitter_state: seed })
    }

    fn send(&self, body: &[u8]) -> Result<(), Failure> {
        let mut request = self
            .agent
            .post(&self.opts.url)
            .set("Content-Type", "application/x-ndjson")
            .set("Content-Encoding", "gzip")
            .set("X-Kubetrainer-Batch", &format!("{:016x}", xxh3_64(body)));
        if let Some(path) = &self.opts.token_file {
            // Read every time: projected service-account tokens are rotated on disk.
            let token = std::fs::read_to_string(path)
                .map_err(|e| Failure::Transient(format!("{}: {e}", path.display())))?;
            request = request.set("Authorization", &format!("Bearer {}", token.trim()));
        }
        match request.send_bytes(body) {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(code, _)) if matches!(code, 401 | 403 | 408 | 429) || code >= 500 => {
                Err(Failure::Transient(format!("HTTP {code}")))
            }
            Err(ureq::Error::Status(code, _)) => Err(Failure::Permanent(format!("HTTP {code}"))),
            Err(ureq::Error::Transport(t)) => Err(Failure::Transient(t.to_string())),
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.next_attempt = Instant::now();
        METRICS.batches_delivered.fetch_add(1, Relaxed);
    }

    /// Exponential back-off with "equal jitter": half fixed, half random.
    fn failed(&mut self, why: &str) {
        self.failures = self.failures.saturating_add(1);
        METRICS.delivery_retries.fetch_add(1, Relaxed);
        let exp = self.opts.backoff_initial.saturating_mul(1u32 << self.failures.min(16));
        let ceiling = exp.min(self.opts.backoff_max);
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 7;
        self.jitter_state ^= self.jitter_state << 17;
        let fraction = (self.jitter_state % 1000) as f64 / 1000.0;
        let delay = ceiling.mul_f64(0.5 + 0.5 * fraction);
        self.next_attempt = Instant::now() + delay;
        eprintln!("kubetrainer-agent: delivery to {} failed ({why}); retrying in {delay:.1?}", self.opts.url);
    }

    /// Keep a refused batch for inspection instead of retrying it forever.
    fn reject(&self, body: &[u8], why: &str) {
        METRICS.rejected_batches.fetch_add(1, Relaxed);
        let dir = self.opts.state_dir.join("rejected");
        let name = format!("{:016x}.ndjson.gz", xxh3_64(body));
        let saved = std::fs::create_dir_all(&dir).and_then(|()| write_atomic(&dir.join(&name), body));
        eprintln!("kubetrainer-agent: receiver refused a batch ({why}); kept as {} ({saved:?})", dir.join(name).display());
    }
}

fn gzip(batch: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(batch.len() / 4), Compression::fast());
    encoder.write_all(batch).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

impl Sink for HttpSink {
    fn deliver(&mut self, batch: &[u8], _records: usize) -> Result<(), Retry> {
        let body = gzip(batch);
        if self.spool.is_empty() && Instant::now() >= self.next_attempt {
            match self.send(&body) {
                Ok(()) => {
                    self.succeeded();
                    return Ok(());
                }
                Err(Failure::Permanent(why)) => {
                    self.reject(&body, &why);
                    return Ok(());
                }
                Err(Failure::Transient(why)) => self.failed(&why),
            }
        }
        if self.spool.bytes() + body.len() as u64 > self.opts.spool_max_bytes && !self.spool.is_empty() {
            return Err(Retry(format!("spool full ({} bytes); waiting for {}", self.spool.bytes(), self.opts.url)));
        }
        self.spool.push(&body).map_err(|e| Retry(format!("spool: {e}")))?;
        METRICS.spool_bytes.store(self.spool.bytes(), Relaxed);
        Ok(())
    }

    fn tick(&mut self) {
        for _ in 0..SENDS_PER_TICK {
            if self.spool.is_empty() || Instant::now() < self.next_attempt {
                return;
            }
            let body = match self.spool.front().expect("not empty") {
                Ok(body) => body,
                Err(e) => {
                    eprintln!("kubetrainer-agent: unreadable spool file ({e}); skipping it");
                    METRICS.errors.fetch_add(1, Relaxed);
                    self.spool.pop();
                    continue;
                }
            };
            match self.send(&body) {
                Ok(()) => {
                    self.succeeded();
                    self.spool.pop();
                }
                Err(Failure::Permanent(why)) => {
                    self.reject(&body, &why);
                    self.spool.pop();
                }
                Err(Failure::Transient(why)) => {
                    self.failed(&why);
                    return;
                }
            }
            METRICS.spool_bytes.store(self.spool.bytes(), Relaxed);
        }
    }

    fn spooled_bytes(&self) -> u64 {
        self.spool.bytes()
    }

    fn finish(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + self.opts.drain_timeout;
        while !self.spool.is_empty() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} bytes still spooled for {} after {:?}; the next run delivers them",
                    self.spool.bytes(),
                    self.opts.url,
                    self.opts.drain_timeout
                ));
            }
            self.tick();
            let wait = self.next_attempt.saturating_duration_since(Instant::now()).min(deadline.saturating_duration_since(Instant::now()));
            std::thread::sleep(wait.max(Duration::from_millis(20)));
        }
        Ok(())
    }
}
