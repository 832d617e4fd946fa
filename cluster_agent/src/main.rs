//! `kubetrainer-agent`: the KubeTrainer node agent (a DaemonSet on every node).
//! Container logs, node and GPU telemetry -> redaction -> file, HTTP or stdout,
//! with checkpointed read positions so nothing is lost across restarts.

mod checkpoint;
mod config;
mod cri;
mod fsutil;
mod logs;
mod metrics;
mod pipeline;
mod record;
mod redact;
mod sink;
mod tailer;
mod telemetry;
mod timefmt;
mod tracker;

use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn main() -> ExitCode {
    let flags = config::Flags::parse();
    let config = match config::Config::from_flags(flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kubetrainer-agent: error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = &config.metrics_addr {
        match metrics::serve(addr) {
            Ok(bound) => eprintln!("kubetrainer-agent: serving /healthz and /metrics on {bound}"),
            Err(e) => {
                eprintln!("kubetrainer-agent: error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            eprintln!("kubetrainer-agent: error: cannot handle signal {signal}: {e}");
            return ExitCode::from(2);
        }
    }
    let mut pipeline = match pipeline::Pipeline::new(config) {
        Ok(pipeline) => pipeline,
        Err(e) => {
            eprintln!("kubetrainer-agent: error: {e}");
            return ExitCode::from(2);
        }
    };
    match pipeline.run(&stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubetrainer-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
