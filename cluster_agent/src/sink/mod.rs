//! Where records go. A sink takes whole batches of JSON lines and says when a batch
//! is safe (durably written, acknowledged, or spooled to disk); only then are read
//! positions checkpointed.

mod file;
mod http;
mod spool;

use std::io::Write;

pub use file::FileSink;
pub use http::{HttpOptions, HttpSink};

/// Delivery failed but may work later: keep the batch, stop reading, retry.
#[derive(Debug)]
pub struct Retry(pub String);

pub trait Sink {
    /// Make `batch` (newline-terminated JSON lines) safe; Err keeps it with the caller.
    fn deliver(&mut self, batch: &[u8], records: usize) -> Result<(), Retry>;
    /// Background work between batches (re-sending spooled batches).
    fn tick(&mut self) {}
    /// Bytes waiting on disk for delivery.
    fn spooled_bytes(&self) -> u64 {
        0
    }
    /// Publish what is pending (rotate the current file, drain the spool) before exit.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn deliver(&mut self, batch: &[u8], _records: usize) -> Result<(), Retry> {
        let mut out = std::io::stdout().lock();
        out.write_all(batch).and_then(|()| out.flush()).map_err(|e| Retry(format!("stdout: {e}")))
    }
}
