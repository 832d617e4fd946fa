"""`kubetrainer train` end to end on the embedded SmolLM2-135M: a short LoRA run lowers the eval loss."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.records import write_jsonl
from tests.train.test_train_cluster_dataset import _records


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    """The bundled model converted once into the shared cache (as the serve and models tests do)."""
    from kubetrainer.models.bundled import ensure_default_llm

    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    return ensure_default_llm(cache / "models")


@pytest.mark.slow
def test_lora_on_the_embedded_model_lowers_eval_loss(tmp_path, smollm2_dir, capsys):
    write_jsonl(tmp_path / "records.jsonl", _records())
    dataset = tmp_path / "datasets" / "cluster_texts.json"
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "dataset", "build", "--source", str(tmp_path / "records.jsonl"), "--out", str(dataset), "--eval-fraction", "0.25"]) == 0
    capsys.readouterr()
    code = main([*home, "train", "--dataset", str(dataset), "--model", str(smollm2_dir), "--max-steps", "3", "--max-seq-len", "128",
                 "--batch-tokens", "512", "--lr", "2e-3", "--eval-every", "3", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset_format"] == "chat+text"
    assert result["last_eval_loss"] < result["first_eval_loss"]
    assert (Path(result["output_dir"]) / "adapter_config.json").is_file()


def test_training_without_data_or_with_bad_options_is_a_clear_error(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "train"]) == 2
    assert "--dataset" in capsys.readouterr().err
    (tmp_path / "d.jsonl").write_text('{"text": "x"}\n')
    assert main(["--home", str(tmp_path), "train", "--dataset", str(tmp_path / "d.jsonl"), "--method", "dora"]) == 2
    assert "--method" in capsys.readouterr().err
