"""bench/gpu/check_memory.py without a GPU: its catalog-shaped configs are the published
models (parameter counts on the meta device), and its measuring code runs on the CPU."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kubetrainer.models.catalog import architecture_params, find, load_catalog

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu" / "check_memory.py"


@pytest.fixture(scope="module")
def check_memory():
    spec = importlib.util.spec_from_file_location("check_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_case_configs_rebuild_the_published_models(check_memory) -> None:
    from transformers import AutoModelForCausalLM

    for name in sorted({name for name, _ in check_memory.CASES}):
        spec = find(load_catalog(), name)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(check_memory.hf_config(spec))
        built = sum(p.numel() for p in model.parameters())
        assert abs(built / spec.params - 1) < 0.005, name


@pytest.mark.parametrize("task", ["inference", "lora", "full"])
def test_run_case_measures_and_estimates_on_cpu(check_memory, task: str) -> None:
    small = replace(find(load_catalog(), "smollm2-135m"), layers=2)
    small = replace(small, params=architecture_params(small))
    result = check_memory.run_case(small, task, "cpu", seq_len=32, bf16=False)
    assert result["measured_bytes"] > 0 and result["estimated_bytes"] > 0
    assert result["ratio"] == result["estimated_bytes"] / result["measured_bytes"]
    assert result["estimate"]["seq_len"] == 32 + (check_memory.NEW_TOKENS if task == "inference" else 0)
