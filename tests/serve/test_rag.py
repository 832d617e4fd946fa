"""Chat with RAG on the sample cluster: the answer carries the right sources and cites them;
ingest grows the open index; retrieval can be switched off per request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kubetrainer.records import make_record
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig

KEY = "rag-ingest-key-0123456789"


@pytest.fixture(scope="module")
def sample_cluster_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """The generator's small sample cluster, read as records and indexed with the bundled MiniLM."""
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index
    from kubetrainer.samples.cluster import generate_cluster
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.dump import read_dump

    root = tmp_path_factory.mktemp("serve-rag")
    dump = root / "dump"
    generate_cluster(dump, seed=0, size=300)  # the incidents, little routine noise
    build_index(root / "index", read_dump(dump, Problems()), Embedder(cache_dir=root / "cache"), source=str(dump),
                window_minutes=360)
    questions = [json.loads(line) for line in (dump / "questions.jsonl").read_text().splitlines()]
    return root / "index", questions


@pytest.fixture(scope="module")
def rag_client(sample_cluster_index: tuple[Path, list[dict]], tiny_model_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    index, _ = sample_cluster_index
    config = ServeConfig(home=tmp_path_factory.mktemp("home"), model=str(tiny_model_dir), rag_index=index,
                         api_keys=frozenset({KEY}))
    client = TestClient(create_app(config))
    client.headers["Authorization"] = f"Bearer {KEY}"
    return client


def ask(client: TestClient, question: str, **extra: object) -> dict:
    response = client.post("/v1/chat/completions", json={
        "model": "tiny-llama", "messages": [{"role": "user", "content": question}], "max_tokens": 8,
        "temperature": 0, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_answer_comes_from_the_diagnosis_and_cites_the_right_source(
        rag_client: TestClient, sample_cluster_index: tuple[Path, list[dict]]) -> None:
    import re

    _, questions = sample_cluster_index
    question = next(q for q in questions if q["id"] == "oom-1")
    evidence = question["evidence"][0]
    body = ask(rag_client, question["question"])
    assert body["answered_by"] == "diagnosis" and body["findings"][0]["rule"] == "oom-killed"
    content = body["choices"][0]["message"]["content"]
    lead, footer = content.splitlines()[0], content.split("Sources:\n", 1)[1].splitlines()
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", lead)]
    holding = [n for n in cited if evidence["contains"] in body["sources"][n - 1]["text"]]
    assert holding and evidence["name"] in footer[holding[0] - 1]
    assert len(footer) == len(body["sources"]) and "path" not in body["sources"][0]["source"]
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["completion_tokens"] > 0


def test_a_phrasing_that_is_not_grounded_leaves_the_composed_answer(rag_client: TestClient) -> None:
    body = ask(rag_client, "Is any node down right now?", rag_phrase=True)
    assert body["answered_by"] == "diagnosis", "a random tiny model cannot state the cause with a real citation"
    assert "NotReady" in body["choices"][0]["message"]["content"].splitlines()[0]


def test_a_follow_up_in_the_chat_is_about_the_subject_of_the_earlier_turns(rag_client: TestClient) -> None:
    messages = [{"role": "user", "content": "Is any node down right now?"},
                {"role": "assistant", "content": "Yes: one node is NotReady."},
                {"role": "user", "content": "What should we do about it?"}]
    response = rag_client.post("/v1/chat/completions", json={"model": "tiny-llama", "messages": messages,
                                                              "max_tokens": 8, "temperature": 0})
    assert response.status_code == 200, response.text
    assert response.json()["findings"][0]["rule"] == "node-not-ready"


def test_rag_off_per_request_and_streamed_sources(rag_client: TestClient) -> None:
    plain = ask(rag_client, "Which pod ran out of GPU memory?", rag=False)
    assert "sources" not in plain and "Sources:" not in plain["choices"][0]["message"]["content"]
    with rag_client.stream("POST", "/v1/chat/completions", json={
            "model": "tiny-llama", "messages": [{"role": "user", "content": "Which pod ran out of GPU memory?"}],
            "max_tokens": 4, "stream": True}) as response:
        events = [json.loads(line[6:]) for line in response.read().decode().split("\n\n")
                  if line.startswith("data: {")]
    assert events[0]["sources"] and "Sources:" in "".join(
        event["choices"][0]["delta"].get("content", "") for event in events if event["choices"])


def test_ingest_grows_the_open_index(rag_client: TestClient) -> None:
    record = make_record("log", "2026-03-02T08:00:00Z", "agent",
                         "fatal: quokka-ledger shard 7 lost quorum, refusing writes",
                         namespace="payments", pod="quokka-ledger-2", container="ledger", node="cpu-9", stream="stderr")
    before = rag_client.app.state.serve.rag.version()
    response = rag_client.post("/v1/ingest", content=json.dumps(record).encode() + b"\n")
    assert response.json()["accepted"] == 1
    assert rag_client.app.state.serve.rag.version() != before  # cached answers keyed on the old index are not reused
    body = ask(rag_client, "Why did quokka-ledger shard 7 lose quorum?", rag_top_k=3)
    assert any(hit["source"].get("name") == "quokka-ledger-2" for hit in body["sources"])
