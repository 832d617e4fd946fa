//! Read positions, saved atomically in `--state-dir` only after the records before
//! them are durably written or acknowledged (so a `kill -9` loses nothing).

use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "checkpoints.json";

/// Where one log file (known by device, inode and first-line fingerprint) was read to.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub fingerprint: String,
    pub dev: u64,
    pub ino: u64,
    pub path: String,
    /// Every record that starts before this byte has been delivered.
    pub offset: u64,
    /// Whether a private key block is open on stdout / stderr (redaction state).
    #[serde(default)]
    pub in_key: [bool; 2],
    #[serde(default)]
    pub last_ts: String,
    /// Unix seconds when the file was last seen, to forget long-gone files.
    pub seen: u64,
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct State {
    pub version: u32,
    pub files: Vec<FileEntry>,
    /// Kernel log position: boot id and the last `/dev/kmsg` sequence number delivered.
    #[serde(default)]
    pub kmsg: Option<(String, u64)>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// The saved state, or an empty one on first start.
pub fn load(state_dir: &Path) -> Result<State, String> {
    let file = path(state_dir);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            format!("{}: unreadable checkpoint ({e}); move it away to start reading from the beginning", file.display())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State { version: 1, ..State::default() }),
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

pub fn save(state_dir: &Path, state: &State) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(state).expect("state serialises");
    write_atomic(&path(state_dir), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_first_start() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap().files.len(), 0);
        let entry = FileEntry {
            fingerprint: "ab".into(),
            dev: 1,
            ino: 2,
            path: "/p/0.log".into(),
            offset: 42,
            in_key: [false, true],
            last_ts: "2026-11-29T00:00:00Z".into(),
            seen: 7,
        };
        let state = State { version: 1, files: vec![entry], kmsg: Some(("boot".into(), 9)) };
        save(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), state);
    }

    #[test]
    fn corrupt_checkpoint_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), b"{not json").unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(err.contains("checkpoints.json") && err.contains("move it away"), "{err}");
    }
}
