"""`kubetrainer load` and the seed's `--load`: planning output, acquisition and its fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.models import bundled

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("memory", "gpus", "expected"),
    [("16GiB", 1, "falcon-7b"), ("24GiB", 1, "qwen2.5-7b"), ("80GiB", 1, "qwen2.5-32b"), ("80GiB", 8, "qwen2.5-72b")],
)
def test_dry_run_choices_without_a_token(
    capsys: pytest.CaptureFixture[str], offline: None, memory: str, gpus: int, expected: str
) -> None:
    plan = run_json(capsys, "load", "--dry-run", "--gpu-memory", memory, "--gpus", str(gpus))
    assert plan["model"]["name"] == expected and plan["fits"] is True
    assert plan["acquired"] is None
    assert plan["estimate"]["total_bytes"] == next(c for c in plan["candidates"] if c["name"] == expected)["total_bytes"]


def test_dry_run_table_explains_the_choice(capsys: pytest.CaptureFixture[str], offline: None) -> None:
    assert main(["load", "--dry-run", "--task", "qlora", "--gpu-memory", "24GiB"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-14b" in out and "Chosen" in out and "21.6 GiB usable" in out


def test_a_bigger_model_that_fits_with_quantized_weights_is_recommended_with_its_gguf_export(
    capsys: pytest.CaptureFixture[str], offline: None
) -> None:
    plan = run_json(capsys, "load", "--dry-run", "--gpu-memory", "16GiB")
    assert plan["model"]["name"] == "falcon-7b"
    alternative = plan["quantized_alternative"]
    assert alternative["name"] == "qwen2.5-14b" and alternative["quantization"] == "int4"
    assert alternative["gguf"] == "kubetrainer export Qwen/Qwen2.5-14B-Instruct --gguf --quant q4_k_m --out DIR"
    assert main(["load", "--dry-run", "--gpu-memory", "16GiB"]) == 0
    assert "with int4 weights Qwen/Qwen2.5-14B-Instruct" in capsys.readouterr().out
    for asked in (["--quant", "int4"], ["--task", "lora"], ["--model", "qwen2.5-7b"]):
        assert run_json(capsys, "load", "--dry-run", "--gpu-memory", "16GiB", *asked)["quantized_alternative"] is None


def test_a_bigger_model_of_the_same_family_and_vocabulary_is_named_as_the_teacher_to_distil(
    capsys: pytest.CaptureFixture[str], offline: None
) -> None:
    plan = run_json(capsys, "load", "--dry-run", "--gpu-memory", "2GiB")
    assert plan["model"]["name"] == "smollm2-135m"
    # 360M has under 3x the parameters; 1.7B is the smallest SmolLM2 worth distilling, and it does not fit 2 GiB
    assert plan["distillation"] == {
        "teacher": "HuggingFaceTB/SmolLM2-1.7B-Instruct", "teacher_params": 1711376384,
        "student": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "command": "kubetrainer distill --teacher HuggingFaceTB/SmolLM2-1.7B-Instruct "
                   "--student HuggingFaceTB/SmolLM2-135M-Instruct --dataset DATA"}
    assert main(["load", "--dry-run", "--gpu-memory", "2GiB"]) == 0
    assert "Distilled" in capsys.readouterr().out
    # the biggest SmolLM2 fits 8 GiB: nothing bigger with its vocabulary to learn from
    assert run_json(capsys, "load", "--dry-run", "--gpu-memory", "8GiB")["distillation"] is None
    assert run_json(capsys, "load", "--dry-run", "--gpu-memory", "2GiB", "--task", "lora")["distillation"] is None


def test_forced_model_says_whether_it_fits(capsys: pytest.CaptureFixture[str], offline: None) -> None:
    plan = run_json(capsys, "load", "--dry-run", "--model", "llama-3.1-70b", "--gpu-memory", "24GiB")
    assert plan["fits"] is False and plan["model"]["id"] == "meta-llama/Llama-3.1-70B-Instruct"
    assert [c["name"] for c in plan["candidates"]] == ["llama-3.1-70b"]
    assert "GiB per device" in plan["candidates"][0]["reason"]


def test_forced_local_directory_is_planned_from_its_config(
    capsys: pytest.CaptureFixture[str], tiny_model_dir: Path, tmp_path: Path
) -> None:
    plan = run_json(capsys, "--home", str(tmp_path), "load", "--model", str(tiny_model_dir), "--gpu-memory", "2GiB")
    assert plan["fits"] is True and plan["model"]["layers"] == 2
    assert plan["acquired"]["path"] == str(tiny_model_dir)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "pretrain"], "unknown task"),
        (["--gpu-memory", "lots"], "not a memory size"),
        (["--gpus", "0", "--gpu-memory", "8GiB"], "--gpus must be at least 1"),
        (["--quant", "int3"], "unknown quantization"),
        (["--model", "./nowhere"], "not a catalog name"),
    ],
)
def test_bad_flags_are_one_line_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["load", "--dry-run", "--gpu-memory", "24GiB", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_offline_load_falls_back_to_the_bundled_default(
    capsys: pytest.CaptureFixture[str], offline: None, converted_models_dir: Path
) -> None:
    home = converted_models_dir.parent
    plan = run_json(capsys, "--home", str(home), "load", "--gpu-memory", "24GiB")
    assert plan["model"]["name"] == "qwen2.5-7b"
    acquired = plan["acquired"]
    assert acquired["id"] == bundled.DEFAULT_LLM_ID
    assert acquired["path"] == str(bundled.default_llm_dir(converted_models_dir))
    assert "could not be downloaded" in acquired["fallback"] and "offline" in acquired["fallback"]


def test_nothing_fits_loads_the_bundled_default(
    capsys: pytest.CaptureFixture[str], offline: None, converted_models_dir: Path
) -> None:
    plan = run_json(capsys, "--home", str(converted_models_dir.parent), "load", "--task", "full", "--gpu-memory", "1GiB")
    assert plan["fits"] is False
    assert plan["acquired"]["fallback"] == "no catalog model fits this hardware"


def test_forced_hub_model_offline_is_an_error(capsys: pytest.CaptureFixture[str], offline: None, tmp_path: Path) -> None:
    code = main(["--home", str(tmp_path), "load", "--model", "qwen2.5-0.5b", "--gpu-memory", "24GiB"])
    assert code == 3
    assert "Qwen/Qwen2.5-0.5B-Instruct is not downloaded" in capsys.readouterr().err


def test_seed_load_flag_works(
    capsys: pytest.CaptureFixture[str], offline: None, converted_models_dir: Path
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("infra_learning", REPO / "infra_training" / "infra_learning.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    assert shim.main(["--load", "--home", str(converted_models_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert "Model ready" in out and "SmolLM2-135M-Instruct" in out
