"""The training run's configuration: one validated pydantic model, written resolved to config.json."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """Everything a run depends on; a resumed run reloads it from the run's config.json."""

    model_config = ConfigDict(extra="forbid")

    dataset: Path
    eval_dataset: Path | None = Field(None, description="eval split; default: the dataset's own eval split, else a held-out slice")
    model: str | None = Field(None, description="catalog/Hub id or local directory; None = the bundled default")
    method: Literal["lora", "qlora", "full"] = "lora"
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = Field(None, description="None = chosen for the architecture")
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int | None = Field(None, ge=0, description="None = 10% of the steps (0 for runs under 10 steps)")
    epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    batch_tokens: int = Field(2048, ge=16, description="tokens per micro-batch (packed, per process)")
    max_seq_len: int = Field(512, ge=8, description="longest example, and the packed row length")
    grad_accum: int = Field(1, ge=1)
    max_grad_norm: float = Field(1.0, gt=0)
    grad_checkpointing: bool = False
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    train_on_prompt: bool = False
    eval_every: int = Field(50, ge=1)
    eval_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    early_stopping_patience: int | None = Field(None, ge=1, description="evals without improvement before stopping")
    save_every: int = Field(100, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    seed: int = 42
    fsdp: bool = False
    deepspeed: Literal["zero2", "zero3"] | None = None
    run_id: str | None = None
    teacher: str | None = Field(None, description="logit distillation from this model (train.distill); same vocabulary")
    distill_temperature: float = Field(2.0, gt=0, description="softmax temperature of the distillation KL")
    distill_weight: float = Field(0.5, ge=0.0, le=1.0, description="weight of the KL term; cross-entropy gets the rest")

    @model_validator(mode="after")
    def _consistent(self) -> "TrainConfig":
        if self.fsdp and self.deepspeed:
            raise ValueError("choose one of --fsdp and --deepspeed")
        if self.max_seq_len > self.batch_tokens:
            self.max_seq_len = self.batch_tokens
        return self
