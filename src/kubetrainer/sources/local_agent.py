"""Run the Rust node agent once over a `/var/log/pods` tree (`kubetrainer harvest --local`).

The agent is the same binary the DaemonSet runs, so the local path and the cluster
path produce the same redacted, checkpointed records. `scripts/setup.core.d/20-agent.sh`
builds it under `$KUBETRAINER_CACHE`; this module only finds it and runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from kubetrainer.errors import Unavailable, UserError

BINARY = "kubetrainer-agent"
BINARY_ENV = "KUBETRAINER_AGENT_BIN"
REPO = Path(__file__).resolve().parents[3]
EXIT_CONFIG_ERROR = 2


def agent_binary() -> Path:
    """The built agent: $KUBETRAINER_AGENT_BIN, the set-up build, a local cargo build, or PATH."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise Unavailable(f"{BINARY_ENV} is not an executable file", where=path)
        return path
    cache = Path(os.environ.get("KUBETRAINER_CACHE") or Path.home() / ".cache" / "kubetrainer")
    candidates = [
        cache / "cargo-target" / "agent" / "release" / BINARY,
        REPO / "cluster_agent" / "target" / "release" / BINARY,
    ]
    on_path = shutil.which(BINARY)
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise Unavailable(
        f"the node agent binary {BINARY} is not built",
        hint="run `make setup` (scripts/setup.core.d/20-agent.sh builds it) or set KUBETRAINER_AGENT_BIN",
    )


def run_agent_once(
    pods_dir: Path,
    state_dir: Path,
    out_dir: Path,
    node_name: str | None = None,
    *,
    extra_args: list[str] | None = None,
) -> Path:
    """Turn `pods_dir` into redacted records in `out_dir` (JSONL files); returns `out_dir`.

    Read positions live in `state_dir`, so a second run only adds what is new.
    """
    command = [
        str(agent_binary()),
        "--pods-dir",
        str(pods_dir),
        "--state-dir",
        str(state_dir),
        "--output",
        f"file:{out_dir}",
        "--once",
    ]
    if node_name:
        command += ["--node-name", node_name]
    command += extra_args or []
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == EXIT_CONFIG_ERROR:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "invalid arguments"
        raise UserError(message.removeprefix("kubetrainer-agent: error: "), where=BINARY)
    if result.returncode != 0:
        raise RuntimeError(f"{BINARY} exited with {result.returncode}: {result.stderr.strip()}")
    return Path(out_dir)
