//! Flags and an optional TOML file (flags win), validated up front so a mistake is
//! one clear message at start, never a surprise later.

use crate::tracker::Filters;
use clap::Parser;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug, Default)]
#[command(name = "kubetrainer-agent", version, about = "KubeTrainer node agent: container logs, node and GPU telemetry, redacted and checkpointed.")]
pub struct Flags {
    /// TOML file with the same settings (keys use underscores: pods_dir = "...").
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Root of the container logs [default: /var/log/pods].
    #[arg(long)]
    pub pods_dir: Option<PathBuf>,
    /// Where read positions and the HTTP spool are kept [default: /var/lib/kubetrainer-agent].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// file:DIR, http(s)://HOST/PATH or stdout [default: stdout].
    #[arg(long)]
    pub output: Option<String>,
    /// Node name for the records [default: $NODE_NAME, else the host name].
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Read everything present, take one telemetry sample, flush and exit.
    #[arg(long)]
    pub once: bool,
    /// Serve /healthz and /metrics here (e.g. 0.0.0.0:9102).
    #[arg(long)]
    pub metrics_addr: Option<String>,
    #[arg(long, value_name = "GLOB")]
    pub include_namespace: Vec<String>,
    #[arg(long, value_name = "GLOB")]
    pub exclude_namespace: Vec<String>,
    #[arg(long, value_name = "GLOB")]
    pub include_container: Vec<String>,
    #[arg(long, value_name = "GLOB")]
    pub exclude_container: Vec<String>,
    /// Extra secret pattern TYPE=REGEX, applied after the shared ones.
    #[arg(long, value_name = "TYPE=REGEX")]
    pub redact_pattern: Vec<String>,
    /// Longest message kept; longer ones are cut with a marker [default: 512KiB].
    #[arg(long)]
    pub max_line_bytes: Option<String>,
    /// Batch size before a flush [default: 1MiB].
    #[arg(long)]
    pub batch_bytes: Option<String>,
    /// Seconds between flushes of a partial batch [default: 1].
    #[arg(long)]
    pub flush_interval: Option<f64>,
    /// Seconds between scans for new log files [default: 1].
    #[arg(long)]
    pub scan_interval: Option<f64>,
    /// Seconds between node/GPU telemetry samples; 0 turns telemetry off [default: 15].
    #[arg(long)]
    pub telemetry_interval: Option<f64>,
    /// The host's /proc [default: /proc].
    #[arg(long)]
    pub proc_dir: Option<PathBuf>,
    /// Prefix for filesystem mount points when the host root is mounted elsewhere [default: /].
    #[arg(long)]
    pub root_dir: Option<PathBuf>,
    /// Kernel log to scan for NVIDIA Xid errors; "none" to skip [default: /dev/kmsg].
    #[arg(long)]
    pub kmsg: Option<String>,
    /// GPU telemetry through NVML: auto or off [default: auto].
    #[arg(long)]
    pub gpu: Option<String>,
    /// file: output rotates at this size [default: 64MiB].
    #[arg(long)]
    pub file_max_bytes: Option<String>,
    /// file: output rotates at this age in seconds [default: 300].
    #[arg(long)]
    pub file_max_age: Option<f64>,
    /// http: bearer token file, read before each request.
    #[arg(long)]
    pub bearer_token_file: Option<PathBuf>,
    /// http: request timeout in seconds [default: 30].
    #[arg(long)]
    pub http_timeout: Option<f64>,
    /// http: disk spool limit before reading pauses [default: 256MiB].
    #[arg(long)]
    pub spool_max_bytes: Option<String>,
    /// http: first retry delay in seconds [default: 0.5]; doubles up to --retry-max.
    #[arg(long)]
    pub retry_initial: Option<f64>,
    /// http: longest retry delay in seconds [default: 30].
    #[arg(long)]
    pub retry_max: Option<f64>,
    /// --once with http: how long to keep retrying the spool before giving up [default: 60].
    #[arg(long)]
    pub drain_timeout: Option<f64>,
}

/// The TOML file: the same settings as the flags.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    pods_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    output: Option<String>,
    node_name: Option<String>,
    once: Option<bool>,
    metrics_addr: Option<String>,
    #[serde(default)]
    include_namespace: Vec<String>,
    #[serde(default)]
    exclude_namespace: Vec<String>,
    #[serde(default)]
    include_container: Vec<String>,
    #[serde(default)]
    exclude_container: Vec<String>,
    #[serde(default)]
    redact_pattern: Vec<String>,
    max_line_bytes: Option<SizeValue>,
    batch_bytes: Option<SizeValue>,
    flush_interval: Option<f64>,
    scan_interval: Option<f64>,
    telemetry_interval: Option<f64>,
    proc_dir: Option<PathBuf>,
    root_dir: Option<PathBuf>,
    kmsg: Option<String>,
    gpu: Option<String>,
    file_max_bytes: Option<SizeValue>,
    file_max_age: Option<f64>,
    bearer_token_file: Option<PathBuf>,
    http_timeout: Option<f64>,
    spool_max_bytes: Option<SizeValue>,
    retry_initial: Option<f64>,
    retry_max: Option<f64>,
    drain_timeout: Option<f64>,
}

/// A size in TOML: a number of bytes or a string like "64MiB".
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    fn text(self) -> String {
        match self {
            SizeValue::Bytes(n) => n.to_string(),
            SizeValue::Text(t) => t,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    File(PathBuf),
    Http(String),
    Stdout,
}

#[derive(Debug)]
pub struct Config {
    pub pods_dir: PathBuf,
    pub state_dir: PathBuf,
    pub output: Output,
    pub node_name: String,
    pub once: bool,
    pub metrics_addr: Option<String>,
    pub filters: Filters,
    pub redact_patterns: Vec<String>,
    pub max_line_bytes: usize,
    pub batch_bytes: usize,
    pub flush_interval: Duration,
    pub scan_interval: Duration,
    pub telemetry_interval: Option<Duration>,
    pub proc_dir: PathBuf,
    pub root_dir: PathBuf,
    pub kmsg: Option<PathBuf>,
    pub gpu: bool,
    pub file_max_bytes: u64,
    pub file_max_age: Duration,
    pub bearer_token_file: Option<PathBuf>,
    pub http_timeout: Duration,
    pub spool_max_bytes: u64,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub drain_timeout: Duration,
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
pub fn parse_size(text: &str, option: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "Ki" => 1 << 10,
        "MiB" | "Mi" => 1 << 20,
        "GiB" | "Gi" => 1 << 30,
        "KB" | "K" => 1_000,
        "MB" | "M" => 1_000_000,
        "GB" | "G" => 1_000_000_000,
        _ => return Err(format!("{option}: bad size {text:?}; expected bytes like 1048576, 512KiB or 64MiB")),
    };
    let value: u64 = number.parse().map_err(|_| format!("{option}: bad size {text:?}; expected bytes like 1048576, 512KiB or 64MiB"))?;
    value.checked_mul(scale).filter(|&v| v > 0).ok_or_else(|| format!("{option}: size {text:?} must be above zero"))
}

fn seconds(value: f64, option: &str, allow_zero: bool) -> Result<Duration, String> {
    if !value.is_finite() || value < 0.0 || (!allow_zero && value == 0.0) || value > 86_400.0 * 365.0 {
        let range = if allow_zero { "0 or more" } else { "above 0" };
        return Err(format!("{option}: {value} seconds is out of range; expected {range}"));
    }
    Ok(Duration::from_secs_f64(value))
}

fn globs(values: &[String], option: &str) -> Result<Vec<glob::Pattern>, String> {
    values
        .iter()
        .map(|v| glob::Pattern::new(v).map_err(|e| format!("{option}: bad glob {v:?}: {e}")))
        .collect()
}

pub fn parse_output(spec: &str) -> Result<Output, String> {
    if spec == "stdout" || spec == "-" {
        Ok(Output::Stdout)
    } else if let Some(dir) = spec.strip_prefix("file:").filter(|d| !d.is_empty()) {
        Ok(Output::File(PathBuf::from(dir)))
    } else if (spec.starts_with("http://") || spec.starts_with("https://")) && spec.split("//").nth(1).is_some_and(|h| !h.is_empty()) {
        Ok(Output::Http(spec.to_string()))
    } else {
        Err(format!("--output: unsupported {spec:?}; expected file:DIR, http(s)://HOST/PATH or stdout"))
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-node".to_string())
}

fn read_file_settings(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))
}

impl Config {
    pub fn from_flags(flags: Flags) -> Result<Config, String> {
        let file = match &flags.config {
            Some(path) => read_file_settings(path)?,
            None => FileSettings::default(),
        };
        let either = |flag: Vec<String>, from_file: Vec<String>| if flag.is_empty() { from_file } else { flag };
        let size = |flag: Option<String>, from_file: Option<SizeValue>, option: &str, default: u64| {
            flag.or(from_file.map(SizeValue::text)).map_or(Ok(default), |t| parse_size(&t, option))
        };
        let output = parse_output(flags.output.or(file.output).as_deref().unwrap_or("stdout"))?;
        let once = flags.once || file.once.unwrap_or(false);
        let pods_dir = flags.pods_dir.or(file.pods_dir).unwrap_or_else(|| PathBuf::from("/var/log/pods"));
        if once && !pods_dir.is_dir() {
            return Err(format!("--pods-dir {}: no such directory (with --once there is nothing to wait for)", pods_dir.display()));
        }
        let gpu = match flags.gpu.or(file.gpu).as_deref().unwrap_or("auto") {
            "auto" | "on" => true,
            "off" => false,
            other => return Err(format!("--gpu: {other:?}; expected auto or off")),
        };
        let kmsg = match flags.kmsg.or(file.kmsg).as_deref().unwrap_or("/dev/kmsg") {
            "" | "none" | "off" => None,
            path => Some(PathBuf::from(path)),
        };
        let bearer_token_file = flags.bearer_token_file.or(file.bearer_token_file);
        if let Some(path) = &bearer_token_file {
            std::fs::read_to_string(path).map_err(|e| format!("--bearer-token-file {}: {e}", path.display()))?;
        }
        let telemetry = seconds(flags.telemetry_interval.or(file.telemetry_interval).unwrap_or(15.0), "--telemetry-interval", true)?;
        let config = Config {
            pods_dir,
            state_dir: flags.state_dir.or(file.state_dir).unwrap_or_else(|| PathBuf::from("/var/lib/kubetrainer-agent")),
            output,
            node_name: flags.node_name.or(file.node_name).filter(|n| !n.is_empty()).unwrap_or_else(host_name),
            once,
            metrics_addr: flags.metrics_addr.or(file.metrics_addr),
            filters: Filters {
                include_namespaces: globs(&either(flags.include_namespace, file.include_namespace), "--include-namespace")?,
                exclude_namespaces: globs(&either(flags.exclude_namespace, file.exclude_namespace), "--exclude-namespace")?,
                include_containers: globs(&either(flags.include_container, file.include_container), "--include-container")?,
                exclude_containers: globs(&either(flags.exclude_container, file.exclude_container), "--exclude-container")?,
            },
            redact_patterns: either(flags.redact_pattern, file.redact_pattern),
            max_line_bytes: size(flags.max_line_bytes, file.max_line_bytes, "--max-line-bytes", 512 << 10)? as usize,
            batch_bytes: size(flags.batch_bytes, file.batch_bytes, "--batch-bytes", 1 << 20)? as usize,
            flush_interval: seconds(flags.flush_interval.or(file.flush_interval).unwrap_or(1.0), "--flush-interval", false)?,
            scan_interval: seconds(flags.scan_interval.or(file.scan_interval).unwrap_or(1.0), "--scan-interval", false)?,
            telemetry_interval: (!telemetry.is_zero()).then_some(telemetry),
            proc_dir: flags.proc_dir.or(file.proc_dir).unwrap_or_else(|| PathBuf::from("/proc")),
            root_dir: flags.root_dir.or(file.root_dir).unwrap_or_else(|| PathBuf::from("/")),
            kmsg,
            gpu,
            file_max_bytes: size(flags.file_max_bytes, file.file_max_bytes, "--file-max-bytes", 64 << 20)?,
            file_max_age: seconds(flags.file_max_age.or(file.file_max_age).unwrap_or(300.0), "--file-max-age", false)?,
            bearer_token_file,
            http_timeout: seconds(flags.http_timeout.or(file.http_timeout).unwrap_or(30.0), "--http-timeout", false)?,
            spool_max_bytes: size(flags.spool_max_bytes, file.spool_max_bytes, "--spool-max-bytes", 256 << 20)?,
            retry_initial: seconds(flags.retry_initial.or(file.retry_initial).unwrap_or(0.5), "--retry-initial", false)?,
            retry_max: seconds(flags.retry_max.or(file.retry_max).unwrap_or(30.0), "--retry-max", false)?,
            drain_timeout: seconds(flags.drain_timeout.or(file.drain_timeout).unwrap_or(60.0), "--drain-timeout", true)?,
        };
        std::fs::create_dir_all(&config.state_dir).map_err(|e| format!("--state-dir {}: {e}", config.state_dir.display()))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("kubetrainer-agent").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn sizes_and_outputs() {
        assert_eq!(parse_size("64MiB", "x").unwrap(), 64 << 20);
        assert_eq!(parse_size("1000", "x").unwrap(), 1000);
        assert!(parse_size("12 parsecs", "--batch-bytes").unwrap_err().contains("--batch-bytes"));
        assert!(parse_size("0", "x").is_err());
        assert_eq!(parse_output("file:/tmp/o").unwrap(), Output::File("/tmp/o".into()));
        assert_eq!(parse_output("https://h/v1/ingest").unwrap(), Output::Http("https://h/v1/ingest".into()));
        assert!(parse_output("ftp://x").unwrap_err().contains("expected file:DIR"));
    }

    #[test]
    fn toml_settings_with_flags_winning() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("agent.toml");
        let state = dir.path().join("state");
        std::fs::write(
            &toml_path,
            format!("state_dir = {state:?}\nbatch_bytes = \"2MiB\"\nexclude_namespace = [\"kube-*\"]\nnode_name = \"from-file\"\n"),
        )
        .unwrap();
        let config = Config::from_flags(flags(&["--config", toml_path.to_str().unwrap(), "--node-name", "from-flag"])).unwrap();
        assert_eq!(config.batch_bytes, 2 << 20);
        assert_eq!(config.node_name, "from-flag");
        assert!(!config.filters.namespace("kube-system"));
        assert!(state.is_dir());
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("agent.toml");
        std::fs::write(&toml_path, "pods_dri = \"/x\"\n").unwrap();
        let err = Config::from_flags(flags(&["--config", toml_path.to_str().unwrap()])).unwrap_err();
        assert!(err.contains("agent.toml") && err.contains("pods_dri"), "{err}");
        let state = dir.path().join("s");
        let state = state.to_str().unwrap();
        let err = Config::from_flags(flags(&["--state-dir", state, "--include-namespace", "[", "--node-name", "n"])).unwrap_err();
        assert!(err.contains("--include-namespace"), "{err}");
        let err = Config::from_flags(flags(&["--state-dir", state, "--once", "--pods-dir", "/nonexistent/pods"])).unwrap_err();
        assert!(err.contains("--pods-dir"), "{err}");
        let err = Config::from_flags(flags(&["--state-dir", state, "--flush-interval=-1"])).unwrap_err();
        assert!(err.contains("--flush-interval"), "{err}");
    }
}
