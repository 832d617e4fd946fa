"""The +RAG variants and retrieval metrics against a real index (bundled MiniLM, FAISS + BM25)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.rag.embed import Embedder
from kubetrainer.rag.index import build_index
from kubetrainer.records import make_record
from tests.train.tiny import write_jsonl

FACTS = [
    ("ml", "trainer-0", "Pod ml/trainer-0 was OOMKilled: container used 31Gi against a 30Gi memory limit"),
    ("ml", "llm-pending", "Pod ml/llm-pending is Pending: 0/12 nodes are available, Insufficient nvidia.com/gpu"),
    ("web", "frontend-7", "Pod web/frontend-7 is in CrashLoopBackOff: back-off restarting failed container nginx"),
    ("kube-system", "gpu-h100-1", "Node gpu-h100-1 kernel: NVRM: Xid 79, GPU has fallen off the bus"),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-index")
    records = [
        make_record("object", f"2026-11-29T04:0{number}:00Z", "dump", text, namespace=namespace, pod=name,
                    object={"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace, "summary": text})
        for number, (namespace, name, text) in enumerate(FACTS)
    ]
    build_index(root / "index", records, Embedder(cache_dir=root / "cache"), source="test")
    return root / "index"


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {"id": "oom", "question": "Why was trainer-0 killed?", "evidence": [{"namespace": "ml", "name": "trainer-0", "contains": "OOMKilled"}]},
        {"id": "gpu", "question": "Which GPU fell off the bus?", "evidence": [{"name": "gpu-h100-1", "contains": "Xid 79"}]},
    ]
    return write_jsonl(tmp_path_factory.mktemp("questions") / "retrieval.jsonl", rows)


def test_four_way_report_with_retrieval_metrics(tmp_path: Path, tiny_adapter_dir: Path, index: Path, questions: Path) -> None:
    held_out = write_jsonl(tmp_path / "held.jsonl", [
        {"instruction": "Why was trainer-0 killed?", "output": "It was OOMKilled."},
        {"instruction": "Which GPU fell off the bus?", "output": "GPU on gpu-h100-1, Xid 79."},
    ])
    out = tmp_path / "report"
    code = main(["--home", str(tmp_path / "home"), "eval", str(tiny_adapter_dir), "--dataset", str(held_out), "--index", str(index),
                 "--retrieval", str(questions), "--out", str(out), "--max-new-tokens", "4", "--top-k", "2"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [row["name"] for row in report["variants"]] == ["base", "base+rag", "tuned", "tuned+rag"]
    assert [row["rag"] for row in report["variants"]] == [False, True, False, True]
    assert report["variants"][1]["perplexity"] is None and report["variants"][1]["qa"]["count"] == 2
    retrieval = report["retrieval"]
    assert retrieval["questions"] == 2 and retrieval["recall@5"] == 1.0 and retrieval["mrr"] > 0.5
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    with_context = [answer for answer in answers if answer["variant"].endswith("+rag")]
    assert len(with_context) == 4 and all(answer["sources"] for answer in with_context)
    assert any(source["source"]["name"] == "trainer-0" for source in with_context[0]["sources"])
    assert "## Retrieval" in (out / "report.md").read_text()
