"""`POST /v1/ingest` in-process: auth, validation, redaction on arrival, idempotency, gzip, limits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fastapi.testclient import TestClient

from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index, read_chunks
from kubetrainer.records import iter_jsonl, make_record
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig

KEY = "ingest-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


def client_for(home: Path, model_dir: Path, **options: object) -> TestClient:
    options.setdefault("api_keys", frozenset({KEY}))
    return TestClient(create_app(ServeConfig(home=home, model=str(model_dir), **options)))


def ndjson(records: list[dict]) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def batch() -> list[dict]:
    return [
        make_record("log", "2026-03-01T10:00:00Z", "agent", "db login failed, password=Sup3rS3cretPassw0rd",
                    node="gpu-1", namespace="ml", pod="trainer-0", container="main", stream="stderr"),
        make_record("event", "2026-03-01T10:00:05Z", "agent", "BackOff: Back-off restarting failed container",
                    namespace="ml", pod="trainer-0"),
    ]


def stored(home: Path) -> list[dict]:
    return [record for path in sorted((home / "harvest" / "ingest").glob("*.jsonl")) for record in iter_jsonl(path)]


def test_ingest_stores_redacted_records_once(tiny_model_dir: Path, tmp_path: Path) -> None:
    client = client_for(tmp_path, tiny_model_dir)
    first = client.post("/v1/ingest", content=ndjson(batch()), headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2 and first.json()["redactions"] >= 1
    records = stored(tmp_path)
    assert len(records) == 2 and "Sup3rS3cretPassw0rd" not in json.dumps(records)
    assert records[0]["redactions"] >= 1

    again = client.post("/v1/ingest", content=gzip.compress(ndjson(batch())),
                        headers={**AUTH, "Content-Encoding": "gzip"})
    assert again.json() == {**again.json(), "accepted": 0, "duplicates": 2}
    restarted = client_for(tmp_path, tiny_model_dir)  # ids survive a restart: re-delivery stays idempotent
    assert restarted.post("/v1/ingest", content=ndjson(batch()), headers=AUTH).json()["duplicates"] == 2
    assert len(stored(tmp_path)) == 2
    metrics = client.get("/metrics", headers=AUTH).text  # keys configured: /metrics off loopback needs one
    assert 'kubetrainer_ingested_records_total{outcome="accepted"} 2.0' in metrics


def test_ingest_reports_bad_lines_and_refuses_all_bad(tiny_model_dir: Path, tmp_path: Path) -> None:
    client = client_for(tmp_path, tiny_model_dir)
    good = batch()[1]
    mixed = client.post("/v1/ingest", content=ndjson([good]) + b"{broken\n" + ndjson([{**good, "v": 2}]), headers=AUTH)
    body = mixed.json()
    assert mixed.status_code == 200 and body["accepted"] == 1 and body["rejected"] == 2
    assert [error["line"] for error in body["errors"]] == [2, 3] and "v" in body["errors"][1]["error"]
    refused = client.post("/v1/ingest", content=b"{broken\n", headers=AUTH)
    assert refused.status_code == 400 and "line 1" in refused.json()["error"]["message"]


def test_ingest_needs_a_key_and_a_size_limit(tiny_model_dir: Path, tmp_path: Path) -> None:
    client = client_for(tmp_path, tiny_model_dir, max_ingest_bytes=2048)
    assert client.post("/v1/ingest", content=ndjson(batch())).status_code == 401
    assert client.post("/v1/ingest", content=ndjson(batch()), headers={"Authorization": "Bearer nope"}).status_code == 401
    too_big = client.post("/v1/ingest", content=ndjson(batch() * 20), headers=AUTH)
    assert too_big.status_code == 413
    bomb = client.post("/v1/ingest", content=gzip.compress(b" " * 100_000), headers={**AUTH, "Content-Encoding": "gzip"})
    assert bomb.status_code == 413
    keyless = client_for(tmp_path, tiny_model_dir, api_keys=frozenset())
    assert keyless.post("/v1/ingest", content=ndjson(batch())).json()["error"]["code"] == "keys_not_configured"


def test_ingested_logs_fold_into_the_chunks_one_index_build_makes(tiny_model_dir: Path, tmp_path: Path) -> None:
    """120 log lines posted in 12 batches end as the few chunks `kubetrainer index` makes of them, not 120."""
    lines = ["INFO step {i} loss=2.{i}", "GET /api/v1/items/{i} 200", "ERROR upstream timeout after 30s (attempt {i})",
             "INFO checkpoint saved to /ckpt/step-{i}", "WARN queue depth {i} above 10"]
    pod = make_record("object", "2026-03-01T09:59:00Z", "agent", "Pod ml/trainer-0 on node gpu-1: phase Running.",
                      namespace="ml", pod="trainer-0", object={"apiVersion": "v1", "kind": "Pod", "name": "trainer-0",
                                                                "namespace": "ml", "summary": "Running"})
    logs = [make_record("log", 1_772_359_200 + i * 61, "agent", lines[i % len(lines)].format(i=i), node="gpu-1",
                        namespace="ml", pod="trainer-0", container="main" if i % 4 else "sidecar") for i in range(120)]
    embedder = Embedder(cache_dir=tmp_path / "cache")
    build_index(tmp_path / "batch", [pod, *logs], embedder, source="records.jsonl")
    build_index(tmp_path / "stream", [pod], embedder, source="records.jsonl")
    client = client_for(tmp_path, tiny_model_dir, rag_index=tmp_path / "stream")
    for start in range(0, len(logs), 10):
        response = client.post("/v1/ingest", content=ndjson(logs[start:start + 10]), headers=AUTH)
        assert response.json()["accepted"] == 10, response.text
    streamed, batch = (sorted(chunk.text for chunk in read_chunks(tmp_path / name)) for name in ("stream", "batch"))
    assert streamed == batch and len(streamed) < 10
