"""Who may see what: every route with and without a key, /metrics by client, keys never logged,
sources without server paths, a bad seed as a 400, and the dashboard's own refusal."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kubetrainer.records import make_record
from kubetrainer.serve.access import (
    KeyRing,
    needs_key,
    public_hit,
    public_record,
    public_source,
)
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig
from kubetrainer.serve.dashboard import DashboardSource, standalone_app

KEY = "kt-" + "A1b2C3d4" * 4
WRONG = "kt-" + "Z9y8X7w6" * 4
BEARER = {"Authorization": f"Bearer {KEY}"}
CHAT = {"model": "tiny-llama", "messages": [{"role": "user", "content": "why is trainer-0 pending?"}], "max_tokens": 2,
        "temperature": 0}
# Everything that reveals the cluster or the API surface, and how to ask for it.
GUARDED = [("GET", "/v1/models", None), ("POST", "/v1/chat/completions", CHAT), ("GET", "/docs", None),
           ("GET", "/openapi.json", None), ("GET", "/api/gpu/nodes", None), ("GET", "/api/gpu/telemetry", None),
           ("POST", "/v1/ingest", None)]
OPEN = ["/healthz", "/readyz", "/dashboard", "/dashboard/assets/dashboard.js"]


def test_policy_table() -> None:
    assert not any(needs_key(path, "10.0.0.9", False) for path in OPEN)
    assert all(needs_key(path, "127.0.0.1", False) for _, path, _ in GUARDED)
    assert needs_key("/dashboard/../api/gpu/nodes", "10.0.0.9", False)
    assert not needs_key("/metrics", "127.0.0.1", False) and not needs_key("/metrics", "::1", False)
    assert needs_key("/metrics", "10.0.0.9", False) and not needs_key("/metrics", "10.0.0.9", True)
    assert needs_key("/metrics", None, False)


def test_key_ring_accepts_exactly_the_keys() -> None:
    ring = KeyRing(frozenset({KEY, "another-key-0123456789"}))
    assert ring.accepts(KEY) and ring.accepts("another-key-0123456789")
    assert not any(ring.accepts(token) for token in (WRONG, KEY[:-1], KEY + "x", "", KEY.upper()))
    assert not KeyRing(frozenset())


def test_sources_and_records_lose_server_paths() -> None:
    source = {"kind": "log", "namespace": "ml", "name": "trainer-0", "path": "/srv/data/harvest/node-a.jsonl"}
    public = public_source(source)
    assert "path" not in public and public["source_name"] == "node-a.jsonl"
    assert public["source_id"] == public_source(dict(source))["source_id"] != public_source({"path": "/x/node-a.jsonl"})["source_id"]
    assert public_hit({"rank": 1, "source": source})["source"] == public
    assert public_source({"kind": "event"}) == {"kind": "event"}
    record = make_record("log", "2026-03-01T10:00:00Z", "file", "x", labels={"path": "/srv/logs/app.log", "team": "ml"})
    assert public_record(record)["labels"] == {"path": "app.log", "team": "ml"}


@pytest.fixture(scope="module")
def guarded(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    config = ServeConfig(home=tmp_path_factory.mktemp("home"), model=str(tiny_model_dir), api_keys=frozenset({KEY}))
    return TestClient(create_app(config))


@pytest.mark.parametrize(("method", "path", "body"), GUARDED, ids=[path for _, path, _ in GUARDED])
def test_everything_revealing_needs_the_key(guarded: TestClient, method: str, path: str, body: dict | None) -> None:
    for headers in ({}, {"Authorization": f"Bearer {WRONG}"}, {"Authorization": f"Basic {KEY}"}):
        refused = guarded.request(method, path, json=body, headers=headers)
        assert refused.status_code == 401, (path, headers)
        assert refused.json()["error"]["type"] == "authentication_error"
        assert refused.headers["www-authenticate"] == "Bearer"
    allowed = guarded.request(method, path, json=body, headers=BEARER)
    assert allowed.status_code != 401, path


def test_probes_and_the_page_stay_open(guarded: TestClient) -> None:
    for path in OPEN:
        assert guarded.get(path).status_code == 200, path


def test_metrics_open_on_loopback_else_key_or_public(guarded: TestClient, tiny_model_dir: Path, tmp_path: Path) -> None:
    assert guarded.get("/metrics").status_code == 401  # TestClient's peer is not loopback
    assert guarded.get("/metrics", headers=BEARER).status_code == 200
    app = guarded.app
    assert TestClient(app, client=("127.0.0.1", 40000)).get("/metrics").status_code == 200
    assert TestClient(app, client=("10.1.2.3", 40000)).get("/metrics").status_code == 401
    public = create_app(ServeConfig(home=tmp_path, model=str(tiny_model_dir), api_keys=frozenset({KEY}),
                                    metrics_public=True))
    assert TestClient(public, client=("10.1.2.3", 40000)).get("/metrics").status_code == 200
    assert TestClient(public, client=("10.1.2.3", 40000)).get("/v1/models").status_code == 401


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1, 10**30])
def test_seed_out_of_range_is_a_400(guarded: TestClient, seed: int) -> None:
    response = guarded.post("/v1/chat/completions", json={**CHAT, "seed": seed}, headers=BEARER)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seed"


def test_seed_at_the_edges_works(guarded: TestClient) -> None:
    for seed in (2**64 - 1, -(2**63), 0):
        assert guarded.post("/v1/chat/completions", json={**CHAT, "seed": seed}, headers=BEARER).status_code == 200


def test_keys_never_reach_the_logs(guarded: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        guarded.get("/v1/models", headers=BEARER)
        guarded.get("/v1/models", headers={"Authorization": f"Bearer {WRONG}"})
        guarded.post("/v1/chat/completions", json={**CHAT, "seed": 2**70}, headers=BEARER)
        guarded.post("/v1/ingest", content=b"{not json", headers={**BEARER, "content-type": "application/x-ndjson"})
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert caplog.records, "the requests must have logged something for this test to mean anything"
    assert KEY not in logged and WRONG not in logged


def test_standalone_dashboard_guards_its_data(tmp_path: Path) -> None:
    client = TestClient(standalone_app(DashboardSource(records_dir=tmp_path), frozenset({KEY})))
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/gpu/nodes").status_code == 401
    assert client.get("/api/gpu/nodes", headers=BEARER).status_code == 200
    assert TestClient(standalone_app(DashboardSource(records_dir=tmp_path))).get("/api/gpu/nodes").status_code == 200


def test_dashboard_beyond_loopback_refuses_without_a_key(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "kubetrainer", "--home", str(tmp_path), "dashboard", "--host", "0.0.0.0",
                          "--port", "1"], capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 2
    assert run.stderr.startswith("error: --host: refusing to listen on 0.0.0.0 without API keys; expected --api-key-file")


def test_chat_sources_name_no_server_path(tiny_model_dir: Path, tmp_path: Path) -> None:
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index

    secret_dir = tmp_path / "srv-private-layout"
    records = [make_record("log", "2026-03-01T10:00:01Z", "file", "RuntimeError: CUDA out of memory in trainer-0",
                           namespace="ml", pod="trainer-0", labels={"path": str(secret_dir / "trainer.log")})]
    build_index(tmp_path / "index", records, Embedder(cache_dir=tmp_path / "cache"))
    client = TestClient(create_app(ServeConfig(home=tmp_path / "home", model=str(tiny_model_dir),
                                               rag_index=tmp_path / "index")))
    body = client.post("/v1/chat/completions", json=CHAT).json()
    assert body["sources"] and all("path" not in hit["source"] for hit in body["sources"])
    assert body["sources"][0]["source"]["source_name"] == "trainer.log"
    assert str(tmp_path) not in json.dumps(body)


def test_alerts_without_an_index_are_refused_for_good_not_retried(guarded: TestClient) -> None:
    """Alertmanager retries a 5xx; a server started without --rag never gains an index, so it answers 4xx."""
    refused = guarded.post("/v1/alerts", json={"version": "4", "status": "firing", "alerts": []}, headers=BEARER)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "index_missing"
    assert "--rag" in refused.json()["error"]["message"]
