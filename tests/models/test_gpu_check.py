"""bench/gpu/check_memory.py without a GPU: its catalog-shaped configs are the published
models (parameter counts on the meta device), and its measuring code runs on the CPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kubetrainer.models.catalog import find, load_catalog

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


# The CPU meter reads the process's RSS high-water mark, which only means something in a fresh
# process (as on the GPU machine, where the script runs alone): deep in a pytest session the case
# can reuse resident pages earlier tests freed, and CI once measured -77,824 bytes.
CASE_IN_FRESH_PROCESS = """
import importlib.util, json, sys
from dataclasses import replace
from kubetrainer.models.catalog import architecture_params, find, load_catalog
spec = importlib.util.spec_from_file_location("check_memory", sys.argv[1])
check_memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_memory)
small = replace(find(load_catalog(), "smollm2-135m"), layers=2)
small = replace(small, params=architecture_params(small))
print(json.dumps(check_memory.run_case(small, sys.argv[2], "cpu", seq_len=32, bf16=False)))
"""


@pytest.mark.parametrize("task", ["inference", "lora", "full"])
def test_run_case_measures_and_estimates_on_cpu(check_memory, task: str) -> None:
    ran = subprocess.run([sys.executable, "-c", CASE_IN_FRESH_PROCESS, str(SCRIPT), task],
                         capture_output=True, text=True, check=True)
    result = json.loads(ran.stdout.splitlines()[-1])
    assert result["estimated_bytes"] > 0
    # The meter sees at least the weights the case built (fp32 here), so it measures the real peak.
    assert result["measured_bytes"] >= result["estimate"]["weights_bytes"]
    assert result["ratio"] == result["estimated_bytes"] / result["measured_bytes"]
    assert result["estimate"]["seq_len"] == 32 + (check_memory.NEW_TOKENS if task == "inference" else 0)
