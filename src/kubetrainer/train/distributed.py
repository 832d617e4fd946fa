"""Distributed plumbing, all PyTorch's own: torchrun launch, process group, DDP or FSDP wrapping.

`--nproc N` re-launches the run through `torch.distributed.run` (gloo on CPU, NCCL on GPUs).
Multi-node runs use torchrun's c10d rendezvous from the environment the Kubernetes job sets:
`NNODES` (or torchrun's own `PET_NNODES`), `RDZV_ENDPOINT` or `MASTER_ADDR`/`MASTER_PORT`,
and `JOB_ID` as the rendezvous id; torchrun itself also reads any `PET_*` variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> DistContext:
    """This process's place in the job; starts the process group when torchrun launched several."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(value: float, ctx: DistContext) -> float:
    """The sum of `value` over all ranks (itself when alone)."""
    if ctx.world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(tensor)
    return float(tensor.item())


def wrap(model: torch.nn.Module, ctx: DistContext, *, fsdp: bool) -> torch.nn.Module:
    """DDP, or FSDP2 FULL_SHARD per decoder layer then the root; the model itself when alone."""
    if ctx.world_size == 1:
        return model
    if not fsdp:
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None)
    from torch.distributed.fsdp import fully_shard

    layer_classes = set(getattr(_base(model), "_no_split_modules", None) or [])
    for module in model.modules():
        if type(module).__name__ in layer_classes:
            fully_shard(module, reshard_after_forward=True)
    fully_shard(model, reshard_after_forward=True)
    return model


def _base(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PEFT wrapper (which carries `_no_split_modules`)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def launch_command(nproc: int, run_dir: Path, home: Path, *, resume: bool, env: Mapping[str, str]) -> list[str]:
    """The torchrun argv that runs `kubetrainer.train.worker` for this run on `nproc` processes per node."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    nnodes = env.get("NNODES") or env.get("PET_NNODES")
    if nnodes and nnodes != "1":
        endpoint = env.get("RDZV_ENDPOINT") or f"{env.get('MASTER_ADDR', 'localhost')}:{env.get('MASTER_PORT', '29400')}"
        command += ["--nnodes", nnodes, "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", env.get("JOB_ID", run_dir.name)]
    else:
        command += ["--standalone"]
    command += ["-m", "kubetrainer.train.worker", "--run-dir", str(run_dir), "--home", str(home)]
    return command + (["--resume"] if resume else [])
