"""Hub acquisition through the real huggingface_hub client against a local HTTP server that
answers like the Hub API (repo info, tree, resolve, error codes)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.models import hub
from kubetrainer.models.loader import load_causal_lm

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(ThreadingHTTPServer):
    """Repositories as {repo_id: {path: bytes}}; `gated` ids answer 403 GatedRepo."""

    def __init__(self, repos: dict[str, dict[str, bytes]], gated: set[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos = repos
        self.gated = gated
        self.requests: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *_args: object) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = unquote(urlparse(self.path).path)
        self.server.requests.append(f"{self.command} {path}")
        parts = path.strip("/").split("/")
        api = parts[0] == "api"
        repo_id = "/".join(parts[2:4] if api else parts[0:2])
        if repo_id in self.server.gated:
            return self._error(403, "GatedRepo", "Access to this model is restricted")
        files = self.server.repos.get(repo_id)
        if files is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        if api and parts[4] == "revision":
            siblings = [{"rfilename": name} for name in files]
            return self._json({"id": repo_id, "sha": SHA, "siblings": siblings}, body)
        if api and parts[4] == "tree":
            entries = [
                {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                for name, data in files.items()
            ]
            return self._json(entries, body)
        name = "/".join(parts[4:])  # org/name/resolve/<rev>/<file>
        if name not in files:
            return self._error(404, "EntryNotFound", "Entry not found")
        data = files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", SHA)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _json(self, value: object, body: bool) -> None:
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def fake_hub(tiny_model_dir: Path) -> Iterator[FakeHub]:
    files = {item.name: item.read_bytes() for item in tiny_model_dir.iterdir() if item.is_file()}
    files["pytorch_model.bin"] = b"a duplicate copy we never download"
    server = FakeHub({"test-org/tiny-llama": files}, gated={"test-org/gated-llama"})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_download_fetches_the_model_files_once(fake_hub: FakeHub, tmp_path: Path) -> None:
    path = hub.download("test-org/tiny-llama", tmp_path, endpoint=fake_hub.endpoint)
    assert path == tmp_path / "test-org--tiny-llama"
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert not (path / "pytorch_model.bin").exists()  # only safetensors weights
    assert hub.cached(tmp_path, "test-org/tiny-llama") == path

    fake_hub.requests.clear()
    assert hub.download("test-org/tiny-llama", tmp_path, endpoint=fake_hub.endpoint) == path
    assert fake_hub.requests == []  # the finished download is reused without asking

    model, tokenizer = load_causal_lm("test-org/tiny-llama", tmp_path)
    assert model.config.num_hidden_layers == 2 and tokenizer.eos_token == "</s>"


def test_interrupted_download_is_not_mistaken_for_a_model(fake_hub: FakeHub, tmp_path: Path) -> None:
    partial = hub.local_dir(tmp_path, "test-org/tiny-llama")
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")  # what a crash mid-download leaves
    assert hub.cached(tmp_path, "test-org/tiny-llama") is None
    path = hub.download("test-org/tiny-llama", tmp_path, endpoint=fake_hub.endpoint)
    assert json.loads((path / "config.json").read_text())["num_hidden_layers"] == 2


def test_fetch_config_reads_only_config_json(fake_hub: FakeHub) -> None:
    config = hub.fetch_config("test-org/tiny-llama", endpoint=fake_hub.endpoint)
    assert config["hidden_size"] == 32
    assert not any("safetensors" in request for request in fake_hub.requests)


def test_gated_repository_says_how_to_get_access(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        hub.download("test-org/gated-llama", tmp_path, endpoint=fake_hub.endpoint)
    assert "gated" in caught.value.render() and "HF_TOKEN" in caught.value.render()


def test_missing_repository_is_named(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        hub.download("test-org/no-such-model", tmp_path, endpoint=fake_hub.endpoint)
    assert not isinstance(caught.value, Unavailable)
    assert "no model test-org/no-such-model" in caught.value.render()


def test_unreachable_hub_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unavailable) as caught:
        hub.download("test-org/tiny-llama", tmp_path, endpoint=f"http://127.0.0.1:{port}")
    assert "unreachable" in caught.value.render()


def test_offline_mode_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Unavailable, match="offline"):
        hub.download("test-org/tiny-llama", tmp_path)


def test_an_unreachable_hub_fails_at_once_without_retries(caplog: pytest.LogCaptureFixture) -> None:
    """Offline, an unknown id spent 24 s in huggingface_hub's back-off before the error."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with caplog.at_level("WARNING"), pytest.raises(Unavailable) as caught:
        hub.fetch_config("test-org/unknown", endpoint=f"http://127.0.0.1:{port}")
    assert "the Hub is unreachable" in caught.value.render() and "HF_HUB_OFFLINE" in caught.value.render()
    assert not [record for record in caplog.records if "Retry" in record.getMessage()]
