"""Held-out data: every training format becomes perplexity texts and QA questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.errors import UserError
from kubetrainer.evaluate.dataset import load_eval_set, render_texts


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_alpaca_pairs_become_questions(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [
        {"instruction": "Why is pod web-1 pending?", "input": "", "output": "No node has a free GPU."},
        {"instruction": "Summarise", "input": "Xid 79 on node g1", "output": "GPU fell off the bus."},
    ])
    eval_set = load_eval_set(path)
    assert eval_set.format == "alpaca"
    assert [q.text for q in eval_set.questions] == ["Why is pod web-1 pending?", "Summarise\n\nXid 79 on node g1"]
    assert eval_set.questions[0].references == ["No node has a free GPU."]
    assert eval_set.texts[0] == [
        {"role": "user", "content": "Why is pod web-1 pending?"},
        {"role": "assistant", "content": "No node has a free GPU."},
    ]


def test_chat_keeps_the_conversation_up_to_the_last_answer(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "You are a cluster assistant."},
        {"role": "user", "content": "Which node is NotReady?"},
        {"role": "assistant", "content": "node-3"},
    ]
    eval_set = load_eval_set(_jsonl(tmp_path / "c.jsonl", [{"messages": messages}]))
    (question,) = eval_set.questions
    assert question.messages == messages[:2] and question.references == ["node-3"]


def test_raw_text_is_perplexity_only_and_limit_applies(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "t.jsonl", [{"text": f"log line {n}"} for n in range(5)])
    eval_set = load_eval_set(path, limit=2)
    assert eval_set.texts == ["log line 0", "log line 1"] and eval_set.questions == []


def test_bad_inputs_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_eval_set(tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="nothing to evaluate"):
        load_eval_set(_jsonl(tmp_path / "t.jsonl", [{"text": "x"}]), limit=0)
    with pytest.raises(UserError, match="no text"):
        load_eval_set(_jsonl(tmp_path / "e.jsonl", [{"text": "  "}]))


def test_conversations_render_with_the_chat_template(tmp_path: Path) -> None:
    from tests.train.tiny import build_tokenizer

    tokenizer = build_tokenizer()
    path = _jsonl(tmp_path / "m.jsonl", [{"instruction": "Why?", "output": "OOMKilled."}, {"instruction": "x", "output": "y"}])
    eval_set = load_eval_set(path)
    rendered = render_texts(eval_set, tokenizer)
    assert rendered[0] == tokenizer.apply_chat_template(eval_set.texts[0], tokenize=False)
    assert "Why?" in rendered[0] and "OOMKilled." in rendered[0]


def test_a_named_eval_split_is_used_alone(tmp_path: Path) -> None:
    path = tmp_path / "cluster_texts.json"
    path.write_text(json.dumps({"train": [{"text": "train only"}], "eval": [{"text": "held out"}]}))
    assert load_eval_set(path).texts == ["held out"]
