"""`kubetrainer eval` end to end: a short real LoRA run, then the seed's `--eval ./checkpoints/latest`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from kubetrainer.cli import main
from kubetrainer.config import Settings
from kubetrainer.train import engine
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl

REPO = Path(__file__).resolve().parents[2]


def _shim():
    spec = importlib.util.spec_from_file_location("infra_learning", REPO / "infra_training" / "infra_learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A finished 16-step LoRA run on repeated cluster Q&A (the engine tests' recipe), under <home>/runs/."""
    work = tmp_path_factory.mktemp("eval-e2e")
    dataset = write_jsonl(work / "qa.jsonl", qa_records(48))
    config = TrainConfig(
        dataset=dataset, model=str(tiny_model_dir), method="lora", lora_rank=8, lora_alpha=16, learning_rate=3e-2,
        warmup_steps=2, max_steps=16, batch_tokens=200, eval_every=8, save_every=8, seed=7,
    )
    engine.run(config, Settings(home=work / "home"))
    return work


def test_seed_eval_of_latest_checkpoint_writes_the_report(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(trained)
    home = trained / "home"
    assert _shim().main(["--home", str(home), "--eval", "./checkpoints/latest"]) == 0
    (run_dir,) = [path for path in (home / "runs").iterdir() if path.is_dir()]
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    base, tuned = report["variants"]
    assert (base["name"], tuned["name"]) == ("base", "tuned")
    assert report["inputs"]["run"] == str(run_dir) and report["inputs"]["format"] == "chat"
    assert tuned["qa"]["count"] == base["qa"]["count"] >= 4  # the run's seeded held-out slice
    # the adapter learned the repeated answers: the held-out text is far less surprising to it
    assert tuned["perplexity"]["perplexity"] < 0.95 * base["perplexity"]["perplexity"]
    assert tuned["qa"]["f1"] >= base["qa"]["f1"]
    assert (run_dir / "eval" / "report.png").stat().st_size > 10000
    assert "| tuned |" in (run_dir / "eval" / "report.md").read_text()


def test_explicit_dataset_baseline_and_out(trained: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held_out = write_jsonl(trained / "held.jsonl", qa_records(3))
    out = trained / "explicit"
    home = trained / "home"
    code = main(["--home", str(home), "eval", str(home / "runs" / "latest"), "--baseline", str(tiny_model_dir),
                 "--dataset", str(held_out), "--out", str(out), "--limit", "2", "--max-new-tokens", "4", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "report.json").read_text())
    assert printed["inputs"]["baseline"] == str(tiny_model_dir) and printed["variants"][0]["qa"]["count"] == 2
    assert len((out / "answers.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "/no/such/run"], "/no/such/run"),
        (["eval", "latest"], "no finished run"),
        (["eval", "{model}", "--retrieval", "q.jsonl"], "needs an index"),
        (["eval", "{model}", "--index", "/no/index"], "no such index"),
        (["eval", "{model}", "--dataset", "/no/data.jsonl"], "does not exist"),
        (["eval", "{model}"], "no held-out data"),
    ],
)
def test_bad_inputs_fail_fast_with_a_clear_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [arg.replace("{model}", str(tiny_model_dir)) for arg in args]
    if "--retrieval" in args or "--index" in args:
        args += ["--dataset", str(write_jsonl(tmp_path / "d.jsonl", qa_records(2)))]
    assert main(["--home", str(tmp_path / "home"), *args]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
