"""The four-way run on a tiny model and its LoRA adapter, and the report files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest

from kubetrainer.evaluate import report as report_module
from kubetrainer.evaluate.answers import AnswerSettings
from kubetrainer.evaluate.dataset import from_examples
from kubetrainer.evaluate.report import build_report, render_markdown, write_report
from kubetrainer.evaluate.run import Candidate, EvalSettings, base_of, evaluate_variants

EXAMPLES = [
    {"messages": [{"role": "user", "content": "Which GPU error means fallen off the bus?"}, {"role": "assistant", "content": "Xid 79"}]},
    {"messages": [{"role": "user", "content": "Why was trainer-0 killed?"}, {"role": "assistant", "content": "It was OOMKilled."}]},
    {"prompt": "", "completion": "kubectl describe node shows the nvidia.com/gpu resource."},
]
SETTINGS = EvalSettings(window=32, stride=16, answers=AnswerSettings(max_new_tokens=6))


@pytest.fixture(scope="module")
def tuned(tiny_model_dir: Path, tiny_adapter_dir: Path) -> Candidate:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tiny_adapter_dir)
    return Candidate("tuned", str(tiny_adapter_dir), model, AutoTokenizer.from_pretrained(tiny_model_dir))


@pytest.fixture(scope="module")
def results(tuned: Candidate):
    eval_set = from_examples("chat", EXAMPLES)
    return evaluate_variants([base_of(tuned), tuned], eval_set, SETTINGS)


def test_base_is_the_adapter_switched_off(results, tiny_model_dir: Path) -> None:
    base, tuned = results
    assert (base.name, tuned.name) == ("base", "tuned")
    assert base.model == str(tiny_model_dir)  # read from the adapter's config
    assert base.perplexity["tokens"] == tuned.perplexity["tokens"] > 0
    assert base.perplexity["perplexity"] != pytest.approx(tuned.perplexity["perplexity"])
    assert base.qa["count"] == tuned.qa["count"] == 2
    assert len(base.answers) == 2 and all(isinstance(answer.prediction, str) for answer in base.answers)


def test_a_plain_model_has_no_built_in_base(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    with pytest.raises(ValueError, match="not a PEFT adapter"):
        base_of(Candidate("tuned", "plain", model, tokenizer))


def test_separate_baseline_model(tiny_lm, tuned: Candidate) -> None:
    model, tokenizer = tiny_lm
    eval_set = from_examples("prompt_completion", [{"prompt": "", "completion": "Pod OOMKilled twice."}])
    base, _ = evaluate_variants([Candidate("base", "tiny", model, tokenizer), tuned], eval_set, SETTINGS)
    assert base.qa is None and base.answers == [] and base.perplexity["perplexity"] > 1


def test_report_files(tmp_path: Path, results) -> None:
    report = build_report(results, {"model": "adapter", "baseline": "tiny", "dataset": "held.jsonl", "index": None}, {"window": 32})
    paths = write_report(tmp_path / "eval", report, results)
    saved = json.loads(paths["report.json"].read_text())
    assert [row["name"] for row in saved["variants"]] == ["base", "tuned"]
    assert saved["variants"][1]["qa"]["f1"] == results[1].qa["f1"]
    markdown = paths["report.md"].read_text()
    assert "| Variant | Model | Perplexity ↓ | Exact match | Token F1 | ROUGE-L |" in markdown
    assert "| base |" in markdown and "| tuned |" in markdown and "**" in markdown
    image = matplotlib.image.imread(paths["report.png"])
    assert image.shape[0] > 300 and image.shape[1] > 1000
    answers = [json.loads(line) for line in paths["answers.jsonl"].read_text().splitlines()]
    assert [answer["variant"] for answer in answers] == ["base", "base", "tuned", "tuned"]


def test_markdown_lists_retrieval_metrics(results) -> None:
    retrieval = {"questions": 4, "mrr": 0.625, "recall@1": 0.5, "per_question": [{"id": "q1", "rr": 1.0}]}
    markdown = render_markdown(build_report(results, {"model": "m"}, {}, retrieval=retrieval))
    assert "## Retrieval" in markdown and "| recall@1 | 0.500 |" in markdown and "| questions | 4 |" in markdown
    assert "per_question" not in markdown


def test_a_failed_write_keeps_the_previous_report(tmp_path: Path, results, monkeypatch: pytest.MonkeyPatch) -> None:
    report = build_report(results, {"model": "m"}, {})
    out = tmp_path / "eval"
    write_report(out, report, results)
    before = (out / "report.json").read_text()

    def broken_chart(_: dict) -> bytes:
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(report_module, "render_chart", broken_chart)
    with pytest.raises(RuntimeError):
        write_report(out, build_report(results[:1], {"model": "other"}, {}), results[:1])
    assert (out / "report.json").read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["eval"]
