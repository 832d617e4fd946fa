"""vLLM's OpenAI server as a child process: the command that starts it, the wait until it is healthy, the stop.

vLLM runs in a process of its own (its own CUDA context; it forks an engine core and workers), so
`kubetrainer serve --engine vllm` starts `python -m vllm.entrypoints.openai.api_server` on a free
loopback port and talks to it over HTTP (`generation.vllm`). The child starts in a new session, so
stopping signals its whole process group: terminate, then kill after a grace period, and whatever
of the group is left is killed too, so nothing vLLM forked outlives our server. A server killed
with SIGKILL runs none of that, so on Linux the child also gets SIGTERM from the kernel when its
parent dies (PR_SET_PDEATHSIG) and shuts down its engine core itself. The kernel sends it when the
thread that started vLLM ends, which is why the model is loaded in the server's main thread.

`KUBETRAINER_VLLM_COMMAND` replaces the command (shell words; our arguments are appended): extra
vLLM options (`... api_server --dtype bfloat16 --gpu-memory-utilization 0.5`), another
environment's Python, or the tests' stand-in server. `KUBETRAINER_VLLM_START_TIMEOUT` is how many
seconds it may take to become healthy (default 900: a large model loads and compiles for minutes).
Its output goes to a log file whose last lines any start-up failure quotes.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from kubetrainer.errors import Unavailable, UserError

COMMAND_ENV = "KUBETRAINER_VLLM_COMMAND"
START_TIMEOUT_ENV = "KUBETRAINER_VLLM_START_TIMEOUT"
DEFAULT_COMMAND = (sys.executable, "-m", "vllm.entrypoints.openai.api_server")
DEFAULT_START_TIMEOUT_S = 900.0
RUNTIME_LORA_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"  # without it vLLM has no /v1/load_lora_adapter
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the --max-lora-rank values vLLM accepts
DEFAULT_LORA_RANK = 16  # vLLM's default, and `kubetrainer train`'s: room for adapters loaded later
STOP_GRACE_S = 10.0
TAIL_LINES = 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def command_override() -> str | None:
    """`KUBETRAINER_VLLM_COMMAND`, when set to something."""
    return os.environ.get(COMMAND_ENV, "").strip() or None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lora_rank(adapters: Mapping[str, Path]) -> int:
    """`--max-lora-rank` for these adapters: their largest rank (PEFT's `r` and `rank_pattern`), rounded up to a
    value vLLM accepts, at least its default so adapters loaded at run time fit too."""
    ranks = [DEFAULT_LORA_RANK]
    for path in adapters.values():
        config_path = Path(path) / "adapter_config.json"
        try:
            config = json.loads(config_path.read_text())
            ranks += [int(config.get("r", 8)), *(int(rank) for rank in (config.get("rank_pattern") or {}).values())]
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise UserError(f"unreadable adapter config ({error})", where=config_path,
                            expected="PEFT adapter_config.json with an integer r") from error
    largest = max(ranks)
    allowed = [rank for rank in LORA_RANKS if rank >= largest]
    if not allowed:
        raise UserError(f"a LoRA rank of {largest} is more than vLLM serves", where="--adapter",
                        expected=f"ranks up to {LORA_RANKS[-1]}")
    return allowed[0]


def server_args(model_dir: Path, served_name: str, port: int, adapters: Mapping[str, Path]) -> list[str]:
    """vLLM's arguments: the model under our name for it, loopback only, LoRA on (served adapters, and room to load
    more at run time)."""
    args = ["--model", str(model_dir), "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port),
            "--enable-lora", "--max-lora-rank", str(lora_rank(adapters))]
    if adapters:
        args += ["--lora-modules", *(f"{name}={Path(path).resolve()}" for name, path in adapters.items())]
    return args


class VLLMProcess:
    """The running vLLM server: its process group, its log, and the base URL it answers on."""

    def __init__(self, process: subprocess.Popen, log: Path, base_url: str) -> None:
        self.process = process
        self.log = log
        self.base_url = base_url

    @classmethod
    def start(cls, args: list[str], port: int) -> VLLMProcess:
        """Starts `KUBETRAINER_VLLM_COMMAND` (default: vLLM's API server) with `args`, its output in a log file."""
        override = command_override()
        command = [*(shlex.split(override) if override else DEFAULT_COMMAND), *args]
        handle, name = tempfile.mkstemp(prefix="kubetrainer-vllm-", suffix=".log")
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True, env={**os.environ, RUNTIME_LORA_ENV: "True"},
                                       preexec_fn=_terminated_with_parent())
        except OSError as error:
            raise Unavailable(f"cannot start vLLM: {error.strerror or error}", where=command[0],
                              hint=f"set {COMMAND_ENV} to the command that starts vLLM's OpenAI server") from error
        finally:
            os.close(handle)
        return cls(process, Path(name), f"http://127.0.0.1:{port}")

    def wait_healthy(self, client: httpx.Client, timeout_s: float | None = None) -> None:
        """Returns once `/health` answers 200; stops the process and says why when it exits or the time runs out."""
        timeout_s = timeout_s if timeout_s is not None else start_timeout()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"vLLM exited with status {self.process.returncode} before it was ready")
            try:
                if client.get("/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self._fail(f"vLLM was not ready after {timeout_s:g}s (set {START_TIMEOUT_ENV} to wait longer)")

    def _fail(self, what: str) -> None:
        tail = self.tail()
        log = self.log
        self.stop(keep_log=True)
        hint = f"its last lines ({log}):\n{tail}" if tail else f"log: {log}"
        raise Unavailable(what, where="--engine vllm", hint=hint)

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines vLLM wrote, indented, for an error message."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])

    def stop(self, *, keep_log: bool = False) -> None:
        """Terminates the process group, kills it after `STOP_GRACE_S`, and kills whatever of it is left."""
        if self.process.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self._signal(signal.SIGKILL)  # children that outlived the leader (vLLM's engine core)
        if not keep_log:
            self.log.unlink(missing_ok=True)

    def _signal(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except (ProcessLookupError, PermissionError):
            pass


def _terminated_with_parent() -> Callable[[], None] | None:
    """On Linux, what the child runs before vLLM: ask for SIGTERM when this process dies (prctl), and send it at
    once if this process died already, between the fork and the prctl. libc is found here, before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def start_timeout() -> float:
    """Seconds vLLM may take to become healthy (`KUBETRAINER_VLLM_START_TIMEOUT`)."""
    raw = os.environ.get(START_TIMEOUT_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_START_TIMEOUT_S
    except ValueError as error:
        raise UserError(f"not a number of seconds: {raw!r}", where=START_TIMEOUT_ENV) from error
