//! Finding container log files under `/var/log/pods` and knowing them by identity:
//! device + inode plus a fingerprint of the first line, so renames, copies and
//! truncation are recognised.

use glob::Pattern;
use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Bytes of the first line that identify a file's contents.
pub const FINGERPRINT_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodMeta {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub container: String,
}

/// `<namespace>_<pod>_<uid>` (none of the three can hold `_`).
pub fn parse_pod_dir(name: &str) -> Option<(String, String, String)> {
    let mut parts = name.split('_');
    let (ns, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !ns.is_empty() && !pod.is_empty() && !uid.is_empty())
        .then(|| (ns.to_string(), pod.to_string(), uid.to_string()))
}

/// `0.log`, kubelet's rotated `0.log.20261129-043107`, and copies like `0.log.1`; not `.gz`.
pub fn is_log_file_name(name: &str) -> bool {
    let Some((number, rest)) = name.split_once(".log") else { return false };
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && (rest.is_empty() || (rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit() || b == b'-')))
}

/// Include/exclude globs by namespace and container (empty include = everything).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub include_namespaces: Vec<Pattern>,
    pub exclude_namespaces: Vec<Pattern>,
    pub include_containers: Vec<Pattern>,
    pub exclude_containers: Vec<Pattern>,
}

fn admitted(value: &str, include: &[Pattern], exclude: &[Pattern]) -> bool {
    (include.is_empty() || include.iter().any(|p| p.matches(value))) && !exclude.iter().any(|p| p.matches(value))
}

impl Filters {
    pub fn namespace(&self, ns: &str) -> bool {
        admitted(ns, &self.include_namespaces, &self.exclude_namespaces)
    }

    pub fn container(&self, container: &str) -> bool {
        admitted(container, &self.include_containers, &self.exclude_containers)
    }
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    pub meta: Arc<PodMeta>,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
}

/// Every admitted log file now under `pods_dir`; a missing directory is simply empty
/// (it may appear later), and unreadable entries are skipped.
pub fn scan(pods_dir: &Path, filters: &Filters) -> Vec<Candidate> {
    let mut found = Vec::new();
    let Ok(pods) = fs::read_dir(pods_dir) else { return found };
    for pod_entry in pods.flatten() {
        let name = pod_entry.file_name();
        let Some((namespace, pod, uid)) = name.to_str().and_then(parse_pod_dir) else { continue };
        if !filters.namespace(&namespace) {
            continue;
        }
        let Ok(containers) = fs::read_dir(pod_entry.path()) else { continue };
        for container_entry in containers.flatten() {
            let Some(container) = container_entry.file_name().to_str().map(str::to_string) else { continue };
            if !filters.container(&container) {
                continue;
            }
            let meta = Arc::new(PodMeta { namespace: namespace.clone(), pod: pod.clone(), uid: uid.clone(), container });
            let Ok(files) = fs::read_dir(container_entry.path()) else { continue };
            for file in files.flatten() {
                if !file.file_name().to_str().is_some_and(is_log_file_name) {
                    continue;
                }
                let path = file.path();
                let Ok(stat) = fs::metadata(&path) else { continue };
                if stat.is_file() {
                    found.push(Candidate { path, meta: meta.clone(), dev: stat.dev(), ino: stat.ino(), size: stat.len() });
                }
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Hash of the first line (at most FINGERPRINT_BYTES); None until that much is written.
pub fn fingerprint(file: &File) -> std::io::Result<Option<u64>> {
    let mut head = [0u8; FINGERPRINT_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        let n = file.read_at(&mut head[filled..], filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let head = &head[..filled];
    Ok(match memchr::memchr(b'\n', head) {
        Some(newline) => Some(xxh3_64(&head[..=newline])),
        None if filled == FINGERPRINT_BYTES => Some(xxh3_64(head)),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pod_dirs_and_file_names() {
        assert_eq!(parse_pod_dir("kube-system_coredns-5d78c9869d-abcde_0f1e2d3c").unwrap().1, "coredns-5d78c9869d-abcde");
        assert!(parse_pod_dir("no-underscores").is_none());
        assert!(parse_pod_dir("a_b_c_d").is_none());
        for good in ["0.log", "12.log", "0.log.20261129-043107", "0.log.1"] {
            assert!(is_log_file_name(good), "{good}");
        }
        for bad in ["0.log.gz", "0.log.20261129-043107.gz", "x.log", ".log", "0.txt", "0.log.tmp"] {
            assert!(!is_log_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn filters_include_then_exclude() {
        let filters = Filters {
            include_namespaces: vec![Pattern::new("team-*").unwrap()],
            exclude_namespaces: vec![Pattern::new("team-secret").unwrap()],
            exclude_containers: vec![Pattern::new("istio-*").unwrap()],
            ..Filters::default()
        };
        assert!(filters.namespace("team-a") && !filters.namespace("team-secret") && !filters.namespace("default"));
        assert!(filters.container("app") && !filters.container("istio-proxy"));
    }

    #[test]
    fn scan_finds_admitted_files_and_tolerates_missing_dirs() {
        let root = tempfile::tempdir().unwrap();
        assert!(scan(&root.path().join("missing"), &Filters::default()).is_empty());
        let dir = root.path().join("default_web-0_uid1/app");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("0.log"), b"x\n").unwrap();
        fs::write(dir.join("0.log.20260101-000000.gz"), b"x").unwrap();
        fs::create_dir_all(root.path().join("not-a-pod/app")).unwrap();
        let found = scan(root.path(), &Filters::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].meta.pod, "web-0");
        assert_eq!(found[0].meta.container, "app");
    }

    #[test]
    fn fingerprint_needs_a_first_line_and_ignores_later_growth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"first line without newline").unwrap();
        let reader = File::open(&path).unwrap();
        assert_eq!(fingerprint(&reader).unwrap(), None);
        file.write_all(b"\n").unwrap();
        let fp = fingerprint(&reader).unwrap().unwrap();
        file.write_all(b"second line\n").unwrap();
        assert_eq!(fingerprint(&reader).unwrap(), Some(fp));
    }
}
