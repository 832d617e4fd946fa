"""bench/gpu/check_vllm.py, the real-GPU check, run here against the vLLM stand-in: a check script that fails for
its own reasons would waste a lent GPU's minutes. Everything but vLLM is real: the bundled model, PEFT adapters,
`kubetrainer serve --engine vllm`, the openai client and the admin routes."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
from pathlib import Path

from tests.generation.test_vllm import standin

CHECK = Path(__file__).resolve().parents[2] / "bench" / "gpu" / "check_vllm.py"


def test_the_gpu_check_passes_against_the_standin_with_an_adapter_added_and_removed_at_run_time(tmp_path: Path):
    from kubetrainer.models.bundled import ensure_default_llm

    spec = importlib.util.spec_from_file_location("check_vllm", CHECK)
    check_vllm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_vllm)
    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    model = ensure_default_llm(cache / "models")
    home = tmp_path / "home"
    home.mkdir()
    assert check_vllm.check(home, tmp_path / "out", model, shlex.split(standin()), tokens=4, concurrent=2) == 0
    report = json.loads((tmp_path / "out" / "vllm.json").read_text())
    assert report["runtime_adapter"]["text"] and report["concurrent"]["requests"] == 2
    assert report["single"]["completion_tokens"] <= 4
