"""The memory estimator: its formulas on catalog models, and against measured CPU peaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from kubetrainer.errors import UserError
from kubetrainer.models.catalog import ModelSpec, architecture_params, find, load_catalog
from kubetrainer.models.estimate import NF4_BYTES_PER_PARAM, Workload, estimate, kv_cache_bytes, logits_bytes

PROBE = Path(__file__).with_name("memprobe.py")
CATALOG = load_catalog()


def spec(name: str) -> ModelSpec:
    found = find(CATALOG, name)
    assert found is not None
    return found


def test_catalog_shapes_agree_with_published_parameter_counts() -> None:
    for model in CATALOG:
        implied = architecture_params(model)  # a typo in any dimension shows up here
        assert abs(implied / model.params - 1) < 0.01, model.name


def test_kv_cache_of_llama_8b_at_8k_is_one_gib() -> None:
    # 2 x 32 layers x 8 KV heads x 128 dims x 8192 tokens x 2 bytes
    assert kv_cache_bytes(spec("llama-3.1-8b"), 8192, 1, 2) == 2**30


def test_full_fine_tuning_costs_16_bytes_per_parameter_before_activations() -> None:
    model = spec("llama-3.1-8b")
    fp32 = estimate(model, Workload(task="full", param_bytes=4))
    assert fp32.weights_bytes + fp32.gradients_bytes + fp32.optimizer_bytes == 16 * model.params
    mixed = estimate(model, Workload(task="full", param_bytes=2))  # + autocast's bf16 Linear weights
    assert mixed.weights_bytes + mixed.gradients_bytes + mixed.optimizer_bytes == 16 * model.params + 2 * model.linear_params


def test_nf4_with_double_quantisation_costs_about_half_a_byte_per_weight() -> None:
    assert NF4_BYTES_PER_PARAM == pytest.approx(0.5 + 0.127 / 8, rel=1e-4)  # QLoRA paper, section 3
    model = spec("llama-3.1-70b")
    qlora = estimate(model, Workload(task="qlora"))
    base = qlora.weights_bytes - 4 * qlora.trainable_params  # less the fp32 adapters
    assert 0.5 < base / model.params < 0.58  # the 2.1B embedding parameters stay 16-bit
    int8 = estimate(model, Workload(task="inference", quantization="int8"))
    bf16 = estimate(model, Workload(task="inference"))
    assert qlora.weights_bytes < int8.weights_bytes < bf16.weights_bytes


def test_tasks_are_ordered_by_cost() -> None:
    model = spec("qwen2.5-7b")
    totals = [estimate(model, Workload(task=task)).total_bytes for task in ("qlora", "lora", "full")]
    assert totals == sorted(totals)
    lora = estimate(model, Workload(task="lora"))
    assert 0.001 < lora.trainable_params / model.params < 0.01  # r=16 on every Linear


def test_gradient_checkpointing_cuts_activations() -> None:
    model = spec("llama-3.2-3b")
    stored = estimate(model, Workload(task="full", gradient_checkpointing=False))
    recomputed = estimate(model, Workload(task="full", gradient_checkpointing=True))
    head = logits_bytes(model, 2048, 2)  # the same either way, and large for a 128K vocabulary
    assert recomputed.activations_bytes - head < (stored.activations_bytes - head) / 4
    assert recomputed.weights_bytes == stored.weights_bytes


def test_sequence_length_is_capped_at_the_models_context() -> None:
    falcon = spec("falcon-7b")
    assert estimate(falcon, Workload(task="inference", seq_len=100_000)).seq_len == 2048


def test_sharding_splits_model_state_but_not_activations() -> None:
    result = estimate(spec("qwen2.5-72b"), Workload(task="inference"))
    assert result.total_bytes == sum(
        (result.weights_bytes, result.kv_cache_bytes, result.activations_bytes, result.overhead_bytes)
    )
    state = result.weights_bytes + result.kv_cache_bytes
    assert result.per_device_bytes(8) == pytest.approx(state / 8 + result.activations_bytes + result.overhead_bytes, abs=1)


def test_training_peak_counts_activations_or_gradients_not_both() -> None:
    model = spec("llama-3.1-8b")
    result = estimate(model, Workload(task="full", gradient_checkpointing=False))
    resident = result.weights_bytes + result.optimizer_bytes + result.overhead_bytes
    step = result.gradients_bytes + result.optimizer_step_bytes  # foreach AdamW: one fp32 temp per param
    assert result.optimizer_step_bytes == 4 * model.params
    assert result.total_bytes == resident + max(step, result.activations_bytes + result.head_gradients_bytes)
    assert result.head_gradients_bytes == model.vocab_size * model.hidden_size * 4


def test_json_has_the_design_fields() -> None:
    fields = estimate(spec("smollm2-135m"), Workload()).to_json()
    for name in ("total_bytes", "weights_bytes", "kv_cache_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes"):
        assert isinstance(fields[name], int)


@pytest.mark.parametrize(
    "bad", [{"task": "pretrain"}, {"quantization": "int3"}, {"param_bytes": 1}, {"batch_size": 0}]
)
def test_bad_workloads_are_user_errors(bad: dict) -> None:
    with pytest.raises(UserError):
        Workload(**bad)


# --- measured: peak RSS growth of real models on this CPU, within 15% --------------

MID = ModelSpec(
    name="mid-llama", hub_id="test/mid-llama", params=0, layers=4, hidden_size=384, intermediate_size=1024,
    attention_heads=6, kv_heads=2, head_dim=64, vocab_size=16000, context_length=4096,
)
MID = replace(MID, params=architecture_params(MID))
# Ascending peak, so memory a job leaves with the allocator never flatters the next one.
MEASURED = [
    (MID, "inference", 512, {"new_tokens": 4}),
    (MID, "lora", 256, {"lora_rank": 16}),
    (MID, "full", 256, {"gradient_checkpointing": True}),
    (MID, "full", 256, {"gradient_checkpointing": False}),
    (spec("smollm2-135m"), "inference", 256, {"new_tokens": 4}),
    (spec("smollm2-135m"), "lora", 64, {"lora_rank": 16}),
]


@pytest.fixture(scope="module")
def measured() -> list[dict]:
    jobs = [{"model": asdict(model), "task": task, "seq_len": seq, **extra} for model, task, seq, extra in MEASURED]
    sys.path.insert(0, str(PROBE.parent))
    from memprobe import ENV

    done = subprocess.run(
        [sys.executable, str(PROBE), json.dumps(jobs)],
        capture_output=True, text=True, env={**os.environ, **ENV}, timeout=850,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(MEASURED)), ids=[f"{m.name}-{t}-{e}" for m, t, _, e in MEASURED])
def test_estimate_matches_measured_cpu_peak(measured: list[dict], index: int) -> None:
    model, task, seq, extra = MEASURED[index]
    workload = Workload(
        task=task,
        seq_len=seq + extra.get("new_tokens", 0),
        param_bytes=4,
        device="cpu",
        gradient_checkpointing=extra.get("gradient_checkpointing", False),
        lora_rank=extra.get("lora_rank", 16),
    )
    predicted = estimate(model, workload).tensor_bytes
    actual = measured[index]["growth_bytes"]
    assert abs(predicted / actual - 1) <= 0.15, f"estimated {predicted / 2**20:.0f} MiB, measured {actual / 2**20:.0f} MiB"
