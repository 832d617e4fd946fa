"""The right evidence for the sample cluster's on-call questions, through the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.errors import UserError
from kubetrainer.evaluate.retrieval import load_questions, retrieval_metrics, score_question
from kubetrainer.rag import Retriever
from kubetrainer.rag.retriever import Hit

SOURCE_KEYS = {"kind", "namespace", "name", "node", "container", "path", "ts_start", "ts_end"}


def test_recall_at_5_on_the_sample_questions(sample_index: Path, sample_dump: Path) -> None:
    retriever = Retriever.open(sample_index)
    metrics = retrieval_metrics(sample_dump / "questions.jsonl", retriever, ks=(1, 5, 10))
    assert metrics["questions"] >= 12
    assert metrics["recall@5"] >= 0.9, [q for q in metrics["per_question"] if q["recall@5"] < 1]
    assert metrics["mrr"] >= 0.5 and 0 < metrics["ndcg@5"] <= 1


def test_hybrid_beats_or_matches_each_half(sample_index: Path, sample_dump: Path) -> None:
    retriever = Retriever.open(sample_index)

    class Mode:
        def __init__(self, mode: str) -> None:
            self.mode = mode

        def search(self, text: str, top_k: int = 5) -> list[Hit]:
            return retriever.search(text, top_k=top_k, mode=self.mode)

    recall = {mode: retrieval_metrics(sample_dump / "questions.jsonl", Mode(mode), ks=(5,))["recall@5"] for mode in ("hybrid", "dense", "bm25")}
    assert recall["hybrid"] >= max(recall["dense"], recall["bm25"])


def test_query_json_matches_the_design_contract(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["query", "which GPU had an Xid error", "--top-k", "3", "--json", "--index", str(sample_index)]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["query"] == "which GPU had an Xid error" and len(payload["results"]) == 3
    for rank, result in enumerate(payload["results"], start=1):
        assert set(result) == {"rank", "score", "text", "source"} and result["rank"] == rank
        assert set(result["source"]) == SOURCE_KEYS
    assert any("Xid=79" in r["text"] for r in payload["results"])
    assert main([*args[:-2], "--json", "--index", str(sample_index), "--namespace", "web"]) == 0
    assert {r["source"]["namespace"] for r in json.loads(capsys.readouterr().out)["results"]} == {"web"}


def test_query_on_a_missing_index_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "query", "anything"]) == 2
    assert "no index here" in " ".join(capsys.readouterr().err.split())


def test_scoring_counts_each_evidence_item_once(tmp_path: Path) -> None:
    question = {"id": "q", "evidence": [{"namespace": "web", "name": "a", "contains": "boom"}, {"namespace": None, "name": "n1", "contains": "NotReady"}]}
    source = {"namespace": "web", "name": "a"}
    hits = [Hit(1, 1, "other", source), Hit(2, 1, "BOOM here", source), Hit(3, 1, "boom again", source), Hit(4, 1, "n1 NotReady", {"namespace": None, "name": "n1"})]
    scored = score_question(question, hits, ks=(1, 3, 5))
    assert scored["first_relevant_rank"] == 2 and scored["rr"] == 0.5
    assert (scored["recall@1"], scored["recall@3"], scored["recall@5"]) == (0.0, 0.5, 1.0)
    assert 0 < scored["ndcg@5"] < 1
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "x", "evidence": []}\n')
    with pytest.raises(UserError) as caught:
        load_questions(bad)
    assert caught.value.where == f"{bad}:1"
