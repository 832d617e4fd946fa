"""What one server process serves and how it protects itself.

Validated up front (before any model is loaded) so a bad option fails in a
second with a clear message instead of after a minute of loading weights.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from kubetrainer.errors import UserError

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
ADMIN_KEY_ENV = "KUBETRAINER_ADMIN_KEY"
MIN_KEY_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_keys_beyond_loopback(host: str, keys: frozenset[str]) -> None:
    """Refuse to serve cluster data beyond this machine to anyone who asks (`serve` and `dashboard`)."""
    if not is_loopback(host) and not keys:
        raise UserError(
            f"refusing to listen on {host} without API keys",
            where="--host",
            expected="--api-key-file FILE (one bearer token per line) when binding beyond loopback",
            hint="or bind to 127.0.0.1 for local use",
        )


def read_api_keys(path: Path, kind: str = "API") -> frozenset[str]:
    """Bearer tokens, one per line; blank lines and `#` comments are ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"cannot read the {kind} key file: {error.strerror}", where=path) from error
    keys = frozenset(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not keys:
        raise UserError(f"the {kind} key file holds no key", where=path, expected="one bearer token per line")
    if any(len(key) < MIN_KEY_LENGTH for key in keys):
        raise UserError(f"an {kind} key is shorter than {MIN_KEY_LENGTH} characters", where=path,
                        expected="long random tokens")
    return keys


def read_admin_keys(path: Path | None) -> frozenset[str]:
    """Admin keys (adapter changes): those in `--admin-key-file` and `KUBETRAINER_ADMIN_KEY`, the one a Secret
    mounts as an environment variable."""
    keys = read_api_keys(path, "admin") if path is not None else frozenset()
    from_env = os.environ.get(ADMIN_KEY_ENV, "").strip()
    if from_env and len(from_env) < MIN_KEY_LENGTH:
        raise UserError(f"the admin key is shorter than {MIN_KEY_LENGTH} characters", where=ADMIN_KEY_ENV,
                        expected="a long random token")
    return keys | {from_env} if from_env else keys


@dataclass(frozen=True)
class ServeConfig:
    """Everything `create_app` needs; the CLI builds it from its options."""

    home: Path
    model: str | None = None  # None: the bundled default (SmolLM2-135M-Instruct)
    engine: str = "transformers"  # auto | transformers | llamacpp | vllm (`generation.engines`); the CLI says auto
    adapters: tuple[Path, ...] = ()
    rag_index: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: frozenset[str] = field(default_factory=frozenset)
    admin_keys: frozenset[str] = field(default_factory=frozenset)  # adapter changes (`serve.adapters`) need one
    metrics_public: bool = False  # /metrics without a key from anywhere, not only loopback
    redis_url: str | None = None
    max_concurrency: int = 2
    max_queue: int = 32
    timeout_s: float = 120.0
    max_body_bytes: int = 4 * 2**20
    max_ingest_bytes: int = 32 * 2**20
    max_new_tokens_limit: int = 2048
    cache_entries: int = 1024
    cache_ttl_s: int = 24 * 3600
    rag_top_k: int = 5
    alert_webhook_url: str | None = None  # a Slack-compatible incoming webhook for investigations
    max_investigations: int = 500

    def validate(self) -> None:
        """Refuse unsafe or impossible settings before anything is loaded."""
        require_keys_beyond_loopback(self.host, self.api_keys)
        if self.admin_keys & self.api_keys:
            raise UserError("a key is both an API key and an admin key", where="--admin-key-file",
                            expected="admin keys that no ordinary client holds")
        from kubetrainer.generation.engines import ENGINES

        if self.engine not in ENGINES:
            raise UserError(f"unknown engine {self.engine!r}", where="--engine", expected=" | ".join(ENGINES))
        if not 0 < self.port < 65536:
            raise UserError(f"port {self.port} is out of range", where="--port", expected="1..65535")
        for name in ("max_concurrency", "timeout_s", "max_body_bytes", "max_ingest_bytes", "max_investigations"):
            if getattr(self, name) <= 0:
                raise UserError(f"{name} must be positive", where=f"--{name.replace('_', '-')}")
        if self.max_queue < 0:
            raise UserError("max_queue must be zero or more", where="--max-queue")
        if self.rag_index is not None and not Path(self.rag_index).is_dir():
            raise UserError("the RAG index directory does not exist", where=self.rag_index,
                            expected="a directory made by `kubetrainer index`")
        for adapter in self.adapters:
            if not (Path(adapter) / "adapter_config.json").is_file():
                raise UserError("not a PEFT adapter directory", where=adapter, expected="a directory with adapter_config.json")
        if self.alert_webhook_url is not None and not self.alert_webhook_url.startswith(("http://", "https://")):
            raise UserError("not an HTTP URL", where="--alert-webhook-url", expected="https://hooks.slack.com/services/...")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise UserError("not a Redis URL", where="--redis", expected="redis://HOST:PORT/DB")
