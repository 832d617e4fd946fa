"""Run the Rust node agent once over a `/var/log/pods` tree (`kubetrainer harvest --local`).

The agent is the same binary the DaemonSet runs, so the local path and the cluster
path produce the same redacted, checkpointed records. `scripts/setup.core.d/20-agent.sh`
builds it under `$KUBETRAINER_CACHE` (in the background for `make run`); this module
finds it and runs it, and until it exists `local_records` reads the pods' logs with the
Python CRI reader instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import read_pods_dir
from kubetrainer.sources.files import read_files

BINARY = "kubetrainer-agent"
BINARY_ENV = "KUBETRAINER_AGENT_BIN"
REPO = Path(__file__).resolve().parents[3]
EXIT_CONFIG_ERROR = 2
PODS_DIR = Path("/var/log/pods")  # this machine's container logs, when it is a node
BUILD_LOCK = "agent-build.lock"  # under $KUBETRAINER_CACHE, held by 20-agent.sh while it builds
BUILD_LOG = "agent-build.log"  # under $KUBETRAINER_CACHE, the background build's output


def cache_dir() -> Path:
    return Path(os.environ.get("KUBETRAINER_CACHE") or Path.home() / ".cache" / "kubetrainer")


def build_running(cache: Path | None = None) -> bool:
    """Whether 20-agent.sh is building the agent now (it holds the build lock while it does)."""
    try:
        handle = ((cache or cache_dir()) / BUILD_LOCK).open("rb")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False  # closing the file let the shared lock go


def agent_binary() -> Path:
    """The built agent: $KUBETRAINER_AGENT_BIN, the set-up build, a local cargo build, or PATH."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise Unavailable(f"{BINARY_ENV} is not an executable file", where=path)
        return path
    cache = cache_dir()
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


def local_records(work_dir: Path, problems: Problems, pods_dir: Path | None = None) -> tuple[Iterator[dict], str | None]:
    """`harvest --local`: this machine's records, and a note for the user when they are partial.

    With the agent: one pass over `pods_dir` (default /var/log/pods), or node and GPU telemetry
    alone when this machine is not a node; its state and output live in `work_dir`. Without it
    (`make run` builds it in the background): the Python CRI reader over the same directory, the
    same schema-v1 records and redaction, and no telemetry; the note says so.
    """
    pods = PODS_DIR if pods_dir is None else Path(pods_dir)
    try:
        agent_binary()
    except Unavailable as error:
        return _without_agent(pods, problems, error)
    if not pods.is_dir():
        pods = work_dir / "no-pods"
        pods.mkdir(parents=True, exist_ok=True)
    records_dir = run_agent_once(pods, work_dir / "state", work_dir / "records")
    return read_files([records_dir], problems), None


def _without_agent(pods: Path, problems: Problems, error: Unavailable) -> tuple[Iterator[dict], str | None]:
    log = cache_dir() / BUILD_LOG
    if build_running():
        why = f"the node agent is still being built (log: {log})"
    else:
        why = error.what + (f" ({error.where})" if error.where else "") + (f"; {error.hint}" if error.hint else "")
    if not pods.is_dir():
        return iter(()), f"{why}; nothing was read locally this time ({pods} does not exist, and node/GPU telemetry needs the agent)"
    node = os.environ.get("NODE_NAME") or socket.gethostname()  # what the agent would name this node
    note = f"{why}; read {pods} with the Python reader instead, node/GPU telemetry left out this time"
    return read_pods_dir(pods, problems, node=node), note
