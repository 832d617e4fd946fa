//! Node telemetry from `/proc` and `statvfs`, named like node_exporter's metrics.
//! The parsers are pure functions over the files' text, tested on recorded samples.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::Path;

pub type Metrics = BTreeMap<String, f64>;

/// File systems node_exporter leaves out by default, plus per-pod volume mounts.
const IGNORED_FS_TYPES: &[&str] = &[
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "fusectl",
    "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs",
    "selinuxfs", "squashfs", "sysfs", "tracefs",
];
const IGNORED_MOUNT_PREFIXES: &[&str] = &["/dev", "/proc", "/sys", "/run/credentials/", "/var/lib/kubelet/pods/", "/var/lib/docker/", "/var/lib/containers/"];

pub fn parse_loadavg(text: &str, out: &mut Metrics) {
    for (name, value) in ["node_load1", "node_load5", "node_load15"].iter().zip(text.split_whitespace()) {
        if let Ok(v) = value.parse() {
            out.insert((*name).to_string(), v);
        }
    }
}

pub fn parse_meminfo(text: &str, out: &mut Metrics) {
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let mut fields = rest.split_whitespace();
        let Some(Ok(value)) = fields.next().map(str::parse::<f64>) else { continue };
        let key = key.replace('(', "_").replace(')', "");
        match fields.next() {
            Some("kB") => out.insert(format!("node_memory_{key}_bytes"), value * 1024.0),
            _ => out.insert(format!("node_memory_{key}"), value),
        };
    }
}

/// `/proc/stat`: CPU seconds by mode summed over CPUs, and the kernel counters.
pub fn parse_stat(text: &str, ticks_per_second: f64, out: &mut Metrics) {
    const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                for (mode, value) in MODES.iter().zip(fields) {
                    if let Ok(ticks) = value.parse::<f64>() {
                        out.insert(format!("node_cpu_seconds_total{{mode=\"{mode}\"}}"), ticks / ticks_per_second);
                    }
                }
            }
            Some(cpu) if cpu.starts_with("cpu") => {
                *out.entry("node_cpu_count".to_string()).or_insert(0.0) += 1.0;
            }
            Some(key) => {
                let name = match key {
                    "ctxt" => "node_context_switches_total",
                    "btime" => "node_boot_time_seconds",
                    "intr" => "node_intr_total",
                    "processes" => "node_forks_total",
                    "procs_running" => "node_procs_running",
                    "procs_blocked" => "node_procs_blocked",
                    _ => continue,
                };
                if let Some(Ok(value)) = fields.next().map(str::parse::<f64>) {
                    out.insert(name.to_string(), value);
                }
            }
            None => {}
        }
    }
}

/// Whole disks only: partitions, loop and RAM devices are left out as node_exporter does.
fn is_whole_disk(name: &str) -> bool {
    if ["loop", "ram", "zram", "fd"].iter().any(|p| name.starts_with(p)) {
        return false;
    }
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let partition_of_sd = ["sd", "hd", "vd", "xvd"].iter().any(|p| trimmed.starts_with(p)) && trimmed.len() < name.len();
    let partition_of_nvme = name.starts_with("nvme") && trimmed.ends_with('p') && trimmed.len() < name.len();
    !partition_of_sd && !partition_of_nvme
}

pub fn parse_diskstats(text: &str, out: &mut Metrics) {
    const SECTOR: f64 = 512.0;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 14 || !is_whole_disk(fields[2]) {
            continue;
        }
        let device = fields[2];
        let value = |i: usize| fields[i].parse::<f64>().unwrap_or(0.0);
        let mut put = |name: &str, v: f64| out.insert(format!("node_disk_{name}{{device=\"{device}\"}}"), v);
        put("reads_completed_total", value(3));
        put("read_bytes_total", value(5) * SECTOR);
        put("read_time_seconds_total", value(6) / 1000.0);
        put("writes_completed_total", value(7));
        put("written_bytes_total", value(9) * SECTOR);
        put("write_time_seconds_total", value(10) / 1000.0);
        put("io_now", value(11));
        put("io_time_seconds_total", value(12) / 1000.0);
    }
}

pub fn parse_netdev(text: &str, out: &mut Metrics) {
    const RECEIVE: [(usize, &str); 4] = [(0, "bytes"), (1, "packets"), (2, "errs"), (3, "drop")];
    for line in text.lines().skip(2) {
        let Some((device, rest)) = line.split_once(':') else { continue };
        let device = device.trim();
        if device == "lo" {
            continue;
        }
        let fields: Vec<f64> = rest.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if fields.len() < 16 {
            continue;
        }
        for (i, what) in RECEIVE {
            out.insert(format!("node_network_receive_{what}_total{{device=\"{device}\"}}"), fields[i]);
            out.insert(format!("node_network_transmit_{what}_total{{device=\"{device}\"}}"), fields[i + 8]);
        }
    }
}

/// Mount points worth reporting, from `/proc/<pid>/mounts` text.
pub fn parse_mounts(text: &str) -> Vec<(String, String)> {
    let mut mounts: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        // /proc/mounts escapes spaces and tabs as octal.
        let mountpoint = fields[1].replace("\\040", " ").replace("\\011", "\t");
        let fstype = fields[2];
        let ignored_prefix = IGNORED_MOUNT_PREFIXES.iter().any(|p| mountpoint == p.trim_end_matches('/') || mountpoint.starts_with(p));
        if IGNORED_FS_TYPES.contains(&fstype) || ignored_prefix || mounts.iter().any(|(m, _)| *m == mountpoint) {
            continue;
        }
        mounts.push((mountpoint, fstype.to_string()));
    }
    mounts
}

fn statvfs(path: &Path) -> Option<libc::statvfs> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and stat a valid out-pointer.
    (unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } == 0).then_some(stat)
}

fn filesystems(proc_dir: &Path, root_dir: &Path, out: &mut Metrics) {
    let mounts = std::fs::read_to_string(proc_dir.join("1/mounts")).or_else(|_| std::fs::read_to_string(proc_dir.join("mounts")));
    for (mountpoint, _fstype) in parse_mounts(&mounts.unwrap_or_default()) {
        let Some(stat) = statvfs(&root_dir.join(mountpoint.trim_start_matches('/'))) else { continue };
        let block = stat.f_frsize as f64;
        let mut put = |name: &str, v: f64| out.insert(format!("node_filesystem_{name}{{mountpoint=\"{mountpoint}\"}}"), v);
        put("size_bytes", stat.f_blocks as f64 * block);
        put("free_bytes", stat.f_bfree as f64 * block);
        put("avail_bytes", stat.f_bavail as f64 * block);
        put("files", stat.f_files as f64);
        put("files_free", stat.f_ffree as f64);
    }
}

/// One sample of everything, and a one-line summary for people and the RAG index.
pub fn sample(proc_dir: &Path, root_dir: &Path) -> (Metrics, String) {
    let mut metrics = Metrics::new();
    let read = |name: &str| std::fs::read_to_string(proc_dir.join(name)).unwrap_or_default();
    parse_loadavg(&read("loadavg"), &mut metrics);
    parse_meminfo(&read("meminfo"), &mut metrics);
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    parse_stat(&read("stat"), ticks, &mut metrics);
    parse_diskstats(&read("diskstats"), &mut metrics);
    parse_netdev(&read("net/dev"), &mut metrics);
    filesystems(proc_dir, root_dir, &mut metrics);
    let summary = summarize(&metrics);
    (metrics, summary)
}

pub fn summarize(m: &Metrics) -> String {
    let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let gib = |v: f64| v / f64::from(1u32 << 30);
    let mut text = format!(
        "node load {:.2} {:.2} {:.2}; memory available {:.1} GiB of {:.1} GiB",
        get("node_load1"),
        get("node_load5"),
        get("node_load15"),
        gib(get("node_memory_MemAvailable_bytes")),
        gib(get("node_memory_MemTotal_bytes"))
    );
    let root_size = get("node_filesystem_size_bytes{mountpoint=\"/\"}");
    if root_size > 0.0 {
        let used = 100.0 * (1.0 - get("node_filesystem_avail_bytes{mountpoint=\"/\"}") / root_size);
        text.push_str(&format!("; root filesystem {used:.0}% used"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  10132153 290696 3084719 46828483 16683 0 25195 0 0 0\ncpu0 1393280 32966 572056 13343292 6130 0 17875 0 0 0\ncpu1 1335280 32966 572056 13343292 6130 0 17875 0 0 0\nintr 1462898 0\nctxt 115315133\nbtime 1732845000\nprocesses 92047\nprocs_running 2\nprocs_blocked 0\n";
    const MEMINFO: &str = "MemTotal:       32795232 kB\nMemFree:         1040468 kB\nMemAvailable:   12926924 kB\nActive(anon):    3421832 kB\nHugePages_Total:       0\n";
    const DISKSTATS: &str = "   7       0 loop0 58 0 2112 12 0 0 0 0 0 20 12 0 0 0 0\n 259       0 nvme0n1 3141 0 204820 1500 9999 0 800000 4000 0 6000 5500 0 0 0 0\n 259       1 nvme0n1p1 3000 0 200000 1400 9000 0 700000 3900 0 5900 5300 0 0 0 0\n   8       0 sda 10 0 80 5 20 0 160 7 1 30 12 0 0 0 0\n   8       1 sda1 10 0 80 5 20 0 160 7 0 30 12 0 0 0 0\n";
    const NETDEV: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 98765 432 1 2 0 0 0 0 12345 210 0 3 0 0 0 0\n";
    const MOUNTS: &str = "/dev/nvme0n1p1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\noverlay /var/lib/containers/storage/overlay/x overlay rw 0 0\ntmpfs /var/lib/kubelet/pods/uid/volumes/kubernetes.io~projected/kube-api-access tmpfs rw 0 0\n/dev/sdb /mnt/my\\040data xfs rw 0 0\n/dev/nvme0n1p1 / ext4 rw 0 0\n";

    #[test]
    fn cpu_memory_and_load() {
        let mut m = Metrics::new();
        parse_stat(STAT, 100.0, &mut m);
        parse_meminfo(MEMINFO, &mut m);
        parse_loadavg("0.52 0.58 0.59 2/1234 56789\n", &mut m);
        assert_eq!(m["node_cpu_seconds_total{mode=\"user\"}"], 101321.53);
        assert_eq!(m["node_cpu_seconds_total{mode=\"steal\"}"], 0.0);
        assert_eq!(m["node_cpu_count"], 2.0);
        assert_eq!(m["node_boot_time_seconds"], 1732845000.0);
        assert_eq!(m["node_context_switches_total"], 115315133.0);
        assert_eq!(m["node_memory_MemAvailable_bytes"], 12926924.0 * 1024.0);
        assert!(m.contains_key("node_memory_Active_anon_bytes"));
        assert_eq!(m["node_memory_HugePages_Total"], 0.0);
        assert_eq!(m["node_load15"], 0.59);
        assert!(summarize(&m).starts_with("node load 0.52 0.58 0.59; memory available 12.3 GiB of 31.3 GiB"));
    }

    #[test]
    fn disks_skip_partitions_and_loops() {
        let mut m = Metrics::new();
        parse_diskstats(DISKSTATS, &mut m);
        assert_eq!(m["node_disk_read_bytes_total{device=\"nvme0n1\"}"], 204820.0 * 512.0);
        assert_eq!(m["node_disk_io_time_seconds_total{device=\"nvme0n1\"}"], 6.0);
        assert!(m.contains_key("node_disk_io_now{device=\"sda\"}"));
        assert!(!m.keys().any(|k| k.contains("loop0") || k.contains("sda1") || k.contains("nvme0n1p1")));
    }

    #[test]
    fn network_without_loopback() {
        let mut m = Metrics::new();
        parse_netdev(NETDEV, &mut m);
        assert_eq!(m["node_network_receive_bytes_total{device=\"eth0\"}"], 98765.0);
        assert_eq!(m["node_network_transmit_drop_total{device=\"eth0\"}"], 3.0);
        assert!(!m.keys().any(|k| k.contains("\"lo\"")));
    }

    #[test]
    fn mounts_are_filtered_and_unescaped() {
        let mounts = parse_mounts(MOUNTS);
        let points: Vec<&str> = mounts.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(points, ["/", "/run", "/mnt/my data"]);
    }

    #[test]
    fn live_sample_on_this_machine() {
        let (m, summary) = sample(Path::new("/proc"), Path::new("/"));
        assert!(m["node_memory_MemTotal_bytes"] > 0.0);
        assert!(m.keys().any(|k| k.starts_with("node_filesystem_size_bytes")));
        assert!(summary.contains("memory available"));
    }
}
