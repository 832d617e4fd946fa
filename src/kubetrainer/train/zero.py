"""`--deepspeed zero2|zero3`: the DeepSpeed engine behind the same training loop.

DeepSpeed (an optional extra) owns what it shards: the optimizer state (ZeRO-2) and the
parameters too (ZeRO-3), gradient clipping, the optimizer and scheduler steps at each
accumulation boundary, and the per-rank checkpoint shards. Everything else (data plan,
loss normalisation, metrics, the adapter/model written beside each checkpoint) is the
loop's own, so a ZeRO run takes the same steps as a DDP or FSDP one. DeepSpeed runs on
GPUs with NCCL and, through its CPU accelerator, on CPUs with gloo, which is how the tests
check it against a single process.
"""

from __future__ import annotations

from pathlib import Path

import torch

from kubetrainer.errors import Unavailable
from kubetrainer.train.config import TrainConfig

STATE_DIR = "deepspeed"  # inside a checkpoint: DeepSpeed's own per-rank shards
TAG = "state"


def config_for(stage: str, *, grad_accum: int, dtype: torch.dtype, max_grad_norm: float) -> dict:
    """The ZeRO config: DeepSpeed counts one micro-batch per backward (our packed micro-batch)."""
    zero: dict = {"stage": 2 if stage == "zero2" else 3, "overlap_comm": True, "contiguous_gradients": True}
    if stage == "zero3":
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": grad_accum,
        "gradient_clipping": max_grad_norm,
        "bf16": {"enabled": dtype == torch.bfloat16},
        "fp16": {"enabled": dtype == torch.float16},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,  # torch's AdamW: the same update as every other mode
        "steps_per_print": 2**31 - 1,
    }


def _deepspeed():
    try:
        import deepspeed
    except ImportError:
        raise Unavailable(
            "--deepspeed needs the DeepSpeed package, an optional extra that is not installed here",
            hint="pip install 'kubetrainer[deepspeed]', or use --fsdp (PyTorch-native FULL_SHARD, the ZeRO-3 equivalent)",
        ) from None
    return deepspeed


def require() -> None:
    """Fail before the model is loaded when DeepSpeed is missing."""
    _deepspeed()


def initialize(model: torch.nn.Module, optimizer, scheduler, config: TrainConfig, dtype: torch.dtype):
    """The DeepSpeed engine wrapping `model`; it steps `optimizer` and `scheduler` at accumulation boundaries."""
    import torch.distributed as dist

    if not dist.is_initialized():  # one process outside torchrun: DeepSpeed still wants a process group
        device = next(model.parameters()).device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=dist.HashStore(), rank=0, world_size=1)
    engine, _, _, _ = _deepspeed().initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler,
        config=config_for(config.deepspeed, grad_accum=config.grad_accum, dtype=dtype, max_grad_norm=config.max_grad_norm),
    )
    return engine


def is_engine(model) -> bool:
    return type(model).__name__ == "DeepSpeedEngine"


def backward(engine, loss: torch.Tensor) -> None:
    """One micro-batch: the loss is already normalised for the whole step, so no division by the accumulation count."""
    engine.backward(loss, scale_wrt_gas=False)
    engine.step()  # a no-op between boundaries; clip + optimizer + scheduler + zero_grad at one


def trainable_state(engine) -> dict[str, torch.Tensor]:
    """Full (gathered) trainable weights on CPU, keyed like the unwrapped model; collective under ZeRO-3."""
    trainable = {name for name, parameter in engine.module.named_parameters() if parameter.requires_grad}
    if engine.zero_optimization_stage() == 3:
        state = engine._zero3_consolidated_16bit_state_dict(exclude_frozen_parameters=True)  # what HF Trainer uses
    else:
        state = engine.module.state_dict()
    return {name: tensor.detach().cpu() for name, tensor in (state or {}).items() if name in trainable}


def save_state(engine, directory: Path) -> None:
    """Every rank writes its shards of weights, optimizer and scheduler under `directory`."""
    engine.save_checkpoint(str(directory), tag=TAG, save_latest=False)


def load_state(engine, directory: Path) -> None:
    engine.load_checkpoint(str(directory), tag=TAG, load_optimizer_states=True, load_lr_scheduler_states=True)
