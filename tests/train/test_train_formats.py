"""Dataset formats: each one detected and normalised, mistakes named by file and line, response-only labels."""

from __future__ import annotations

import json

import pytest

import datasets
from kubetrainer.errors import UserError
from kubetrainer.train.formats import load_dataset, load_splits
from kubetrainer.train.tokenize import IGNORE, tokenize_example
from tests.train.tiny import write_jsonl

CASES = {
    "alpaca": {"instruction": "Why?", "input": "pod x", "output": "OOM"},
    "chat": {"messages": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "OOM"}]},
    "prompt_completion": {"prompt": "Q: why?\nA:", "completion": " OOM"},
    "text": {"text": "Xid 79 on gpu-b"},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_format_is_detected_in_json_and_jsonl(tmp_path, name):
    (tmp_path / "a.json").write_text(json.dumps([CASES[name]] * 2))
    write_jsonl(tmp_path / "b.jsonl", [CASES[name]] * 3)
    assert load_dataset(tmp_path / "a.json")[0] == name
    fmt, examples = load_dataset(tmp_path / "b.jsonl")
    assert fmt == name and len(examples) == 3
    assert set(examples[0]) in ({"messages"}, {"prompt", "completion"})


def test_alpaca_becomes_a_chat_exchange_with_the_input(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [CASES["alpaca"]])
    messages = load_dataset(tmp_path / "a.jsonl")[1][0]["messages"]
    assert messages == [{"role": "user", "content": "Why?\n\npod x"}, {"role": "assistant", "content": "OOM"}]


def test_hugging_face_datasets_directory(tmp_path):
    datasets.Dataset.from_list([CASES["prompt_completion"]] * 4).save_to_disk(str(tmp_path / "hf"))
    fmt, examples = load_dataset(tmp_path / "hf")
    assert fmt == "prompt_completion" and len(examples) == 4


def test_a_record_that_fits_no_format_names_file_line_and_fields(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [CASES["text"], {"question": "q", "answer": "a"}])
    with pytest.raises(UserError) as caught:
        load_dataset(path)
    assert caught.value.where == f"{path}:2"
    assert "question" in caught.value.what and "instruction" in caught.value.expected


def test_broken_json_and_bad_messages_are_user_errors(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(UserError, match="invalid JSON") as caught:
        load_dataset(tmp_path / "x.jsonl")
    assert caught.value.where.endswith("x.jsonl:2")
    write_jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "user", "content": "no answer"}]}])
    with pytest.raises(UserError, match="no assistant"):
        load_dataset(tmp_path / "m.jsonl")


def test_cluster_texts_object_keeps_its_eval_split(tmp_path):
    path = tmp_path / "cluster_texts.json"
    path.write_text(json.dumps({"version": 1, "train": [CASES["chat"]] * 3, "eval": [CASES["text"]]}))
    fmt, train, evaluation = load_splits(path)
    assert (fmt, len(train), len(evaluation)) == ("chat+text", 3, 1)


def test_loss_is_on_the_response_only_unless_asked(tiny_tokenizer):
    example = {"messages": CASES["chat"]["messages"]}
    tokenized = tokenize_example(tiny_tokenizer, example, max_seq_len=512)
    targets = tiny_tokenizer.decode([t for t, label in zip(tokenized.input_ids, tokenized.labels) if label != IGNORE])
    assert targets.startswith("OOM") and "Why" not in targets and "<|im_end|>" in targets
    everything = tokenize_example(tiny_tokenizer, example, max_seq_len=512, train_on_prompt=True)
    assert everything.target_count == len(everything.input_ids)
    completion = tokenize_example(tiny_tokenizer, {"prompt": "Q: why?\nA:", "completion": " OOM"}, max_seq_len=512)
    assert tiny_tokenizer.decode([token for token, label in zip(completion.input_ids, completion.labels) if label != IGNORE]) == " OOM<|im_end|>"


def test_a_huge_one_line_record_is_tokenized_from_its_head_only(tmp_path, tiny_tokenizer):
    """A 60 MB single-line record took 6.4 GB in `train`: the offsets of every token were built, then cut."""
    import tracemalloc

    text = "pod crash loop back-off restarting failed container " * 100_000  # 5 MB on one line
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps({"text": text}) + "\n")
    [example] = load_dataset(path)[1]
    head = tokenize_example(tiny_tokenizer, {"prompt": "", "completion": text[:20_000]}, max_seq_len=64)
    tracemalloc.start()
    tokenized = tokenize_example(tiny_tokenizer, example, max_seq_len=64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert tokenized.input_ids == head.input_ids and len(tokenized.input_ids) == 64
    assert peak < 3 * len(text)  # the text is copied once; tokenizing all of it took 80 times as much
