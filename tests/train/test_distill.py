"""Logit distillation (train.distill, `kubetrainer distill`) on tiny real models: the student moves toward the
teacher's distributions far more than training on the labels alone moves it, and a teacher of another vocabulary
is refused in one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from kubetrainer.cli import main
from kubetrainer.config import Settings
from kubetrainer.train import engine
from kubetrainer.train.config import TrainConfig
from kubetrainer.train.distill import kd_loss_sum
from tests.train.tiny import build_model, qa_records, write_jsonl


def test_the_soft_loss_is_the_kl_times_the_temperature_squared() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 11), torch.randn(5, 11)
    temperature = 2.0
    p = torch.softmax(teacher / temperature, -1)
    expected = (p * (p.log() - torch.log_softmax(student / temperature, -1))).sum() * temperature**2
    assert torch.isclose(kd_loss_sum(student, teacher, temperature), expected, atol=1e-5)
    assert float(kd_loss_sum(teacher, teacher, temperature)) == pytest.approx(0.0, abs=1e-5)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:
    """Another tiny Llama with the student's tokenizer (its own random weights: a distribution to learn)."""
    directory = tmp_path_factory.mktemp("teacher")
    build_model(tiny_tokenizer, seed=5).save_pretrained(directory)
    tiny_tokenizer.save_pretrained(directory)
    return directory


def kl_to_teacher(student_dir: Path, teacher_dir: Path, records: list[dict]) -> float:
    """Mean KL(teacher || student) per token over the rendered chats, computed here with transformers alone."""
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    student = AutoModelForCausalLM.from_pretrained(student_dir, dtype=torch.float32).eval()
    teacher = AutoModelForCausalLM.from_pretrained(teacher_dir, dtype=torch.float32).eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for record in records:
            ids = torch.tensor([tokenizer(tokenizer.apply_chat_template(record["messages"], tokenize=False))["input_ids"]])
            log_q, log_p = student(ids).logits.log_softmax(-1), teacher(ids).logits.log_softmax(-1)
            total += float((log_p.exp() * (log_p - log_q)).sum())
            tokens += ids.shape[1]
    return total / tokens


def test_distillation_moves_the_student_toward_the_teacher(tmp_path, tiny_model_dir, teacher_dir):
    records = qa_records(48)
    dataset = write_jsonl(tmp_path / "qa.jsonl", records)
    common = dict(dataset=dataset, model=str(tiny_model_dir), method="full", learning_rate=3e-3, warmup_steps=0,
                  max_steps=12, batch_tokens=200, eval_every=12, seed=7)
    distilled = engine.run(TrainConfig(**common, teacher=str(teacher_dir), distill_weight=1.0, distill_temperature=1.0),
                           Settings(home=tmp_path / "distilled"))
    labels_only = engine.run(TrainConfig(**common), Settings(home=tmp_path / "labels"))

    sample = records[:4]
    before = kl_to_teacher(tiny_model_dir, teacher_dir, sample)
    after = kl_to_teacher(distilled.output_dir, teacher_dir, sample)
    assert after < 0.5 * before
    assert after < 0.5 * kl_to_teacher(labels_only.output_dir, teacher_dir, sample)
    assert json.loads((distilled.run_dir / "config.json").read_text())["teacher"] == str(teacher_dir)


def test_the_distill_command_trains_the_student_and_refuses_another_vocabulary(tmp_path, tiny_model_dir, teacher_dir,
                                                                               tiny_tokenizer, capsys):
    dataset = write_jsonl(tmp_path / "qa.jsonl", qa_records(24))
    home = ["--home", str(tmp_path / "home")]
    args = ["distill", "--student", str(tiny_model_dir), "--dataset", str(dataset), "--max-steps", "2",
            "--batch-tokens", "200", "--eval-every", "2"]
    assert main([*home, *args, "--teacher", str(teacher_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2 and (Path(result["output_dir"]) / "model.safetensors").is_file()  # full: a whole model

    stranger = tmp_path / "stranger"
    build_model(tiny_tokenizer, seed=6).save_pretrained(stranger)
    other = AutoTokenizer.from_pretrained(teacher_dir)
    other.add_tokens(["<gpu-xid>"])
    other.save_pretrained(stranger)
    capsys.readouterr()  # the saves' progress bars
    runs_before = sorted((tmp_path / "home" / "runs").iterdir())
    assert main([*home, *args, "--teacher", str(stranger), "--run-id", "refused"]) == 2
    err = capsys.readouterr().err
    assert "--teacher" in err and "tokenizer differs" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted((tmp_path / "home" / "runs").iterdir()) == runs_before  # nothing of the refused run is left
