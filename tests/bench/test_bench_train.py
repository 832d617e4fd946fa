"""bench/bench_train.py end to end at a tiny size: every side trains, counts tokens, and sees our data.

A random two-layer Llama and a small BPE tokenizer (tests/train/tiny.py) stand in for SmolLM2; a handful of
cluster-derived examples, 2 optimizer steps of 2 examples each.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from tests.train.tiny import build_model, build_tokenizer

REPO = Path(__file__).resolve().parents[2]
STEPS, PER_STEP = 2, 2


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_train", REPO / "bench" / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    bench = load_bench()
    root = tmp_path_factory.mktemp("bench-train")
    tokenizer = build_tokenizer()
    model_dir = root / "tiny-llama"
    build_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    dataset = bench.cluster_dataset(root / "bench.jsonl", records=12)
    return bench, model_dir, dataset, root


@pytest.fixture(scope="module")
def figures(setup):
    bench, model_dir, dataset, root = setup
    return {side: bench.RUNNERS[side](model_dir, dataset, STEPS, PER_STEP, root / side) for side in bench.SIDES}


def test_every_side_trains_the_steps_and_reports_tokens_and_a_finite_loss(figures):
    for side, result in figures.items():
        assert result["steps"] == STEPS, side
        assert result["tokens"] > 0 and result["tokens_per_second"] > 0, side
        assert math.isfinite(result["final_loss"]) and result["final_loss"] > 0, side


def test_the_baselines_see_our_examples_in_our_order(setup, figures):
    bench, model_dir, dataset, _ = setup
    from transformers import AutoTokenizer

    examples = bench.tokenized(dataset, AutoTokenizer.from_pretrained(model_dir))
    batches, order = bench.step_plan(examples, STEPS, PER_STEP)
    ours = [index for batch in batches for index in batch]
    assert len(batches) == STEPS and len(order) == STEPS * PER_STEP
    assert order[: len(ours)] == ours  # ours trains on a prefix of what the baselines take
    expected = bench.data_digest((examples[i].input_ids, examples[i].labels) for i in order)
    # TRL's digest is of its own prepared dataset: labels it built from our completion mask
    assert figures["trl"]["data_digest"] == figures["flat"]["data_digest"] == expected
    assert figures["ours"]["data_digest"] == bench.data_digest(
        (examples[i].input_ids, examples[i].labels) for i in ours
    )
    tokens = [len(examples[i].input_ids) for i in order]
    assert figures["trl"]["tokens"] == figures["flat"]["tokens"] == sum(tokens)
    assert figures["ours"]["tokens"] == sum(tokens[: len(ours)])


def test_summary_compares_ours_with_the_faster_baseline(setup):
    bench = setup[0]

    def run(speed, rss):
        return {
            "tokens_per_second": speed,
            "peak_rss_bytes": rss,
            "final_loss": 1.0,
            "train_seconds": 1.0,
            "wall_seconds": 2.0,
            "tokens": 10,
        }

    runs = {"ours": [run(100, 4), run(80, 5), run(120, 4)], "trl": [run(50, 8)] * 3, "flat": [run(60, 6)] * 3}
    summary = bench.summarise(runs)
    assert summary["faster_baseline"] == "flat"
    assert summary["throughput_ratio"] == pytest.approx(100 / 60)
    assert summary["memory_ratio"] == pytest.approx(4 / 6)
    assert summary["sides"]["ours"]["tokens_per_second"] == {"median": 100, "min": 80, "max": 120}
    assert [r["ratio"] for r in summary["rounds"]] == pytest.approx([100 / 60, 80 / 60, 120 / 60])
    document = {
        "date": "2026-12-01",
        "steps": 2,
        "examples_per_step": 2,
        "repeats": 3,
        "load_1min": {"start": 1.0, "min": 1.0, "max": 2.0, "end": 1.5},
        "versions": {"torch": "t", "transformers": "x", "peft": "p", "trl": "r"},
        **summary,
    }
    text = bench.render(document)
    assert "| tokens/s | 100 (80–120) | 50 (50–50) | 60 (60–60) |" in text
    assert "**1.67x**" in text
    assert "**met on the medians, not in every round**" in text  # round 2: 80 / 60


def test_the_baselines_model_keeps_flattened_samples_apart(setup):
    """With the KV cache on, SDPA would let a flattened sample attend to the one before it (a lesser baseline)."""
    import torch
    from transformers import AutoTokenizer, DataCollatorWithFlattening

    bench, model_dir, dataset, _ = setup
    examples = bench.tokenized(dataset, AutoTokenizer.from_pretrained(model_dir))[:2]
    model = bench._base_model(model_dir).eval()
    batch = DataCollatorWithFlattening()([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    with torch.no_grad():
        flat = model(**batch).logits[0]
        apart = torch.cat([model(input_ids=torch.tensor([e.input_ids])).logits[0] for e in examples])
    assert torch.allclose(flat, apart, atol=1e-4)
