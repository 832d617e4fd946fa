"""Selection: the most capable model that fits the best device group.

The rules (docs/memory-estimator.md, "Selection"):
- "Most capable" is the most parameters, then the longest context.
- A task that shards may spread over the GPUs of one node: inference by tensor
  parallelism, full fine-tuning and LoRA by FSDP (ZeRO-3). QLoRA runs on one GPU
  (bitsandbytes 4-bit weights do not shard in our launcher). Model state (weights,
  KV cache, gradients, optimizer) divides by the device count; activations and the
  runtime overhead are paid on every device. A model uses the fewest devices it fits on.
- The best device group is the budget with the most usable memory for the task:
  per device times the devices the task may use.
- GPUs run bf16 weights (or int8/NF4 when asked); a CPU-only host runs fp32.
- Gated models are candidates only when a Hub token is available to download them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.models.catalog import ModelSpec
from kubetrainer.models.estimate import Estimate, Workload, estimate
from kubetrainer.models.hardware_budget import Budget

SHARDABLE_TASKS = frozenset({"inference", "lora", "full"})
GIB = 2**30


@dataclass(frozen=True)
class Candidate:
    """One model judged against one budget."""

    spec: ModelSpec
    estimate: Estimate
    devices: int  # devices it would use (the fewest it fits on, else all it may use)
    per_device_bytes: int
    fits: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.spec.hub_id,
            "name": self.spec.name,
            "params": self.spec.params,
            "context_length": self.spec.context_length,
            "gated": self.spec.gated,
            "fits": self.fits,
            "devices": self.devices,
            "per_device_bytes": self.per_device_bytes,
            "total_bytes": self.estimate.total_bytes,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Selection:
    task: str
    budget: Budget
    workload: Workload
    chosen: Candidate | None
    candidates: tuple[Candidate, ...]

    def to_json(self) -> dict[str, Any]:
        """The `kubetrainer load --dry-run --json` shape (DESIGN.md section 5)."""
        chosen = self.chosen
        return {
            "task": self.task,
            "hardware": self.budget.to_json(),
            "model": ({**chosen.spec.to_json(), "devices": chosen.devices} if chosen else None),
            "estimate": chosen.estimate.to_json() if chosen else None,
            "fits": bool(chosen and chosen.fits),
            "workload": {
                "seq_len": chosen.estimate.seq_len if chosen else self.workload.seq_len,
                "batch_size": self.workload.batch_size,
                "param_bytes": self.workload.param_bytes,
                "quantization": self.workload.quantization,
                "gradient_checkpointing": self.workload.gradient_checkpointing,
            },
            "candidates": [candidate.to_json() for candidate in self.candidates],
        }


def usable_devices(task: str, budget: Budget) -> int:
    """How many of the budget's devices `task` may spread over."""
    return budget.devices if task in SHARDABLE_TASKS and budget.kind == "gpu" else 1


def workload_for(task: str, budget: Budget, **options: Any) -> Workload:
    """The workload `task` runs on `budget`: bf16 on GPUs, fp32 on a CPU."""
    return Workload(
        task=task,
        param_bytes=2 if budget.kind == "gpu" else 4,
        device=budget.kind,
        **options,
    )


def best_budget(task: str, budgets: list[Budget]) -> Budget:
    """The budget with the most usable memory for `task`, then the most per device."""
    if not budgets:
        raise UserError("no hardware to plan for", hint="pass --gpu-memory SIZE [--gpus N]")
    return max(budgets, key=lambda budget: (budget.usable_bytes * usable_devices(task, budget), budget.usable_bytes))


def judge(spec: ModelSpec, workload: Workload, budget: Budget, *, allow_gated: bool = True) -> Candidate:
    """Whether `spec` fits `budget` for `workload`, on how many devices, and why (not)."""
    needed = estimate(spec, workload)
    limit = budget.usable_bytes
    most = usable_devices(workload.task, budget)
    devices = next((n for n in range(1, most + 1) if needed.per_device_bytes(n) <= limit), None)
    if devices is None:
        per_device = needed.per_device_bytes(most)
        reason = f"needs {per_device / GIB:.1f} GiB per device on {most}, {limit / GIB:.1f} GiB usable"
        return Candidate(spec, needed, most, per_device, False, reason)
    per_device = needed.per_device_bytes(devices)
    if spec.gated and not allow_gated:
        return Candidate(spec, needed, devices, per_device, False, "gated: set HF_TOKEN (or --token) to download it")
    reason = f"{per_device / GIB:.1f} of {limit / GIB:.1f} GiB on {devices} device{'s' if devices > 1 else ''}"
    return Candidate(spec, needed, devices, per_device, True, reason)


def capability(spec: ModelSpec) -> tuple[int, int]:
    return (spec.params, spec.context_length)


def select(
    task: str,
    budgets: list[Budget],
    catalog: tuple[ModelSpec, ...],
    *,
    allow_gated: bool = True,
    **workload_options: Any,
) -> Selection:
    """Judge every catalog model on the best budget and choose the most capable that fits."""
    budget = best_budget(task, budgets)
    workload = workload_for(task, budget, **workload_options)
    candidates = sorted(
        (judge(spec, workload, budget, allow_gated=allow_gated) for spec in catalog),
        key=lambda candidate: capability(candidate.spec),
        reverse=True,
    )
    chosen = next((candidate for candidate in candidates if candidate.fits), None)
    return Selection(task, budget, workload, chosen, tuple(candidates))
