"""Shared fixtures: the sample cluster indexed once, its planted OOMKilled pod, a recording chat webhook.

The tiny model (serve tests) and the helm binary (chart tests) come from those suites' fixtures.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.store import read_findings
from tests.helm.conftest import helm  # noqa: F401  (a fixture)
from tests.serve.conftest import tiny_model_dir  # noqa: F401  (a fixture)

RULES = Path(__file__).resolve().parents[2] / "helm" / "kubetrainer" / "files" / "prometheus-rules.yaml"
EMBEDDING_CACHE = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer")) / "test-embeddings"


@dataclass
class SampleIndex:
    directory: Path
    findings: list[Finding]

    @property
    def oom_pod(self) -> Finding:
        """The planted incident: ml-training's feature extractor, OOMKilled and in CrashLoopBackOff."""
        return next(f for f in self.findings if f.rule == "oom-killed" and f.name.startswith("feature-extractor-"))

    def retriever(self):
        from kubetrainer.rag.retriever import Retriever

        return Retriever.open(self.directory, cache_dir=EMBEDDING_CACHE)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> SampleIndex:
    """The generator's sample cluster (incidents, little routine noise) indexed with the bundled MiniLM."""
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index
    from kubetrainer.samples.cluster import generate_cluster
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.dump import read_dump

    root = tmp_path_factory.mktemp("investigate")
    dump = root / "dump"
    generate_cluster(dump, seed=0, size=300)  # the same texts every run: their vectors are cached across runs
    build_index(root / "index", read_dump(dump, Problems()), Embedder(cache_dir=EMBEDDING_CACHE), source=str(dump),
                window_minutes=360)
    return SampleIndex(root / "index", read_findings(root / "index"))


@pytest.fixture(scope="session")
def retriever(sample_index: SampleIndex):
    """One open retriever for the in-process tests (its MiniLM loads once)."""
    return sample_index.retriever()


@dataclass
class ChatWebhook:
    """A real HTTP server standing in for Slack: it records every POST and refuses the first `failures` with 503."""

    failures: int = 0
    received: list[dict] = field(default_factory=list)  # every attempt: {"status": ..., "body": ...}
    url: str = ""

    def delivered(self) -> list[dict]:
        return [attempt["body"] for attempt in self.received if attempt["status"] == 200]


@contextmanager
def serving_chat_webhook() -> Iterator[ChatWebhook]:
    """A `ChatWebhook` listening on a free loopback port while the block runs."""
    hook = ChatWebhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            status = 503 if len(hook.received) < hook.failures else 200
            hook.received.append({"status": status, "body": body})
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"try later")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def chat_webhook() -> Iterator[ChatWebhook]:
    with serving_chat_webhook() as hook:
        yield hook
