"""Checkpoints that resume exactly: trainable weights, optimizer, scheduler, RNG and data position.

`get_state_dict`/`set_state_dict` from torch.distributed.checkpoint give one code path for a
plain module, DDP and FSDP (full, CPU-offloaded state gathered on every rank; rank 0
writes). Under DeepSpeed the optimizer and scheduler live in its own per-rank shards
(`deepspeed/` inside the checkpoint; multi-node runs need the run directory on shared
storage), and the gathered trainable weights are written as usual. A checkpoint
directory is built in a staging directory and swapped in (kubetrainer.atomic.directory),
so a crash mid-save leaves the previous one intact.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)

from kubetrainer import atomic
from kubetrainer.generation.chat import carry_template
from kubetrainer.train import paths, zero

_FULL_TRAINABLE = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)

TRAINER_STATE = "trainer_state.pt"


@dataclass
class Progress:
    """Where the loop is: the next optimizer step and where its data comes from, and early-stopping state."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_eval_loss: float | None = None
    evals_without_improvement: int = 0
    tokens_seen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_weights(model) -> dict[str, torch.Tensor]:
    """The full trainable weights of a plain, DDP, FSDP or DeepSpeed model, on CPU (collective: call on every rank)."""
    if zero.is_engine(model):
        return zero.trainable_state(model)
    return get_model_state_dict(model, options=_FULL_TRAINABLE)


def save(run_dir: Path, *, model, unwrapped, tokenizer, optimizer, scheduler, progress: Progress, is_main: bool, keep: int) -> Path:
    """Write checkpoints/step-N (every rank gathers, rank 0 writes) and prune all but the newest `keep`."""
    target = paths.checkpoint_dir(run_dir, progress.step)
    shards = None
    if zero.is_engine(model):
        weights, trainer_state = zero.trainable_state(model), {}
        shards = target.with_name(f".{target.name}.{zero.STATE_DIR}")  # one path every rank writes its shards to
        zero.save_state(model, shards)
        if dist.is_initialized():
            dist.barrier()
    else:
        weights, optim_state = get_state_dict(model, optimizer, options=_FULL_TRAINABLE)
        trainer_state = {"weights": weights, "optimizer": optim_state, "scheduler": scheduler.state_dict()}
    if not is_main:
        return target
    with atomic.directory(target) as staging:
        save_model(unwrapped, tokenizer, staging / "model", weights)
        if shards is not None:
            os.replace(shards, staging / zero.STATE_DIR)
        torch.save(trainer_state | {"rng": _rng_state()}, staging / TRAINER_STATE)
        atomic.write_json(staging / "state.json", asdict(progress))
    for old in paths.checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def save_model(unwrapped, tokenizer, out_dir: Path, trainable_weights: dict[str, torch.Tensor]) -> None:
    """An adapter directory for PEFT models (they keep only the adapter's keys), else a full HF model; the tokenizer beside it,
    with the chat template it was trained in (`generation.chat`), so serve and eval render that format."""
    unwrapped.save_pretrained(out_dir, state_dict=trainable_weights)
    carry_template(tokenizer).save_pretrained(out_dir)


def load(checkpoint: Path, *, model, optimizer, scheduler) -> Progress:
    """Restore weights, optimizer, scheduler and RNG from a checkpoint; the Progress to continue from."""
    import json

    state = torch.load(checkpoint / TRAINER_STATE, map_location="cpu", weights_only=False)
    if zero.is_engine(model):
        zero.load_state(model, checkpoint / zero.STATE_DIR)
    else:
        set_state_dict(
            model,
            optimizer,
            model_state_dict=state["weights"],
            optim_state_dict=state["optimizer"],
            options=StateDictOptions(full_state_dict=True, strict=False),
        )
        scheduler.load_state_dict(state["scheduler"])
    _restore_rng(state["rng"])
    return Progress(**json.loads((checkpoint / "state.json").read_text()))
