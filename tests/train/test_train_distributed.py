"""2-process DDP and FSDP on the CPU (gloo) follow the same loss curve as one process with the same global batch."""

from __future__ import annotations

import pytest

from kubetrainer.config import Settings
from kubetrainer.train import distributed, engine, launch, runs
from kubetrainer.train.config import TrainConfig
from tests.train.tiny import qa_records, write_jsonl

# Same maths, different reduction order (all-reduce vs local sums): float32 rounding only.
TOLERANCE = 1e-4


def _config(tmp_path, model_dir, **overrides) -> TrainConfig:
    values = dict(
        dataset=write_jsonl(tmp_path / "qa.jsonl", qa_records(40)), model=str(model_dir), lora_dropout=0.0,
        learning_rate=1e-2, warmup_steps=0, max_steps=3, batch_tokens=120, eval_every=3, save_every=100, seed=3,
    )
    return TrainConfig(**(values | overrides))


def _losses(run_dir):
    return [row["loss"] for row in runs.read_metrics(run_dir) if "loss" in row]


@pytest.mark.parametrize(("method", "fsdp"), [("lora", False), ("full", True)], ids=["ddp-lora", "fsdp-full"])
def test_two_processes_match_one_with_the_same_global_batch(tmp_path, tiny_model_dir, method, fsdp):
    single = engine.run(_config(tmp_path, tiny_model_dir, method=method, grad_accum=2), Settings(home=tmp_path / "one"))
    run_dir = launch.run_distributed(
        _config(tmp_path, tiny_model_dir, method=method, grad_accum=1, fsdp=fsdp), Settings(home=tmp_path / "two"), nproc=2, resume=False
    )
    assert (run_dir / "final").is_dir()
    assert _losses(run_dir) == pytest.approx(_losses(single.run_dir), abs=TOLERANCE)
    assert len(_losses(run_dir)) == 3


def test_launch_command_uses_c10d_rendezvous_for_multi_node(tmp_path):
    env = {"NNODES": "3", "RDZV_ENDPOINT": "trainer-0.trainer:29400", "JOB_ID": "job-7"}
    command = distributed.launch_command(4, tmp_path / "run", tmp_path, resume=True, env=env)
    joined = " ".join(command)
    assert "--nproc-per-node 4 --nnodes 3 --rdzv-backend c10d --rdzv-endpoint trainer-0.trainer:29400 --rdzv-id job-7" in joined
    assert command[-1] == "--resume"
    assert "--standalone" in distributed.launch_command(2, tmp_path / "run", tmp_path, resume=False, env={})
