"""GPU check: the memory estimator against torch.cuda.max_memory_allocated on an NVIDIA GPU.

Builds catalog-shaped models from their configs (random weights, nothing downloaded),
runs bf16 inference (a 2,048-token prompt, 16 new tokens) and two LoRA / full
fine-tuning steps the way `kubetrainer train` runs them (fp32 master weights under
bf16 autocast for full; a bf16 base with fp32 adapters for LoRA; gradient
checkpointing; torch AdamW), and compares each peak with `models.estimate` (the
tensor part: the CUDA context is not in max_memory_allocated). Cases that would not
fit the GPU are skipped and listed. Writes $OUT/memory.json; exits non-zero when an
estimate is off by more than 15%.

    OUT=/tmp/out .venv/bin/python bench/gpu/check_memory.py
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.models.catalog import ModelSpec, find, load_catalog
from kubetrainer.models.estimate import Workload, estimate

CASES = [
    ("qwen2.5-0.5b", "inference"), ("qwen2.5-0.5b", "lora"), ("qwen2.5-0.5b", "full"),
    ("llama-3.2-1b", "inference"), ("llama-3.2-1b", "lora"), ("llama-3.2-1b", "full"),
    ("llama-3.1-8b", "inference"), ("llama-3.1-8b", "lora"),
]
SEQ_LEN, NEW_TOKENS, TOLERANCE = 2048, 16, 0.15
MODEL_TYPES = {"llama": "llama", "smollm2": "llama", "qwen2": "qwen2", "mistral": "mistral"}


def hf_config(spec: ModelSpec) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(
        MODEL_TYPES[spec.family],
        vocab_size=spec.vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.attention_heads,
        num_key_value_heads=spec.kv_heads,
        head_dim=spec.head_dim,
        max_position_embeddings=spec.context_length,
        tie_word_embeddings=spec.tied_embeddings,
    )


class PeakMeter:
    """Peak tensor bytes on `device` since `start()`: the CUDA allocator's, or RSS on a CPU."""

    def __init__(self, device: str) -> None:
        self.device = device

    def start(self) -> None:
        import torch

        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")
            self.base = _status_bytes("VmRSS")

    def peak(self) -> int:
        import torch

        if self.device == "cuda":
            return torch.cuda.max_memory_allocated() - self.base
        return _status_bytes("VmHWM") - self.base


def _status_bytes(field: str) -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1]) * 1024


def run_case(spec: ModelSpec, task: str, device: str, seq_len: int = SEQ_LEN, bf16: bool = True) -> dict[str, Any]:
    """Measure one case and estimate it the same way; returns both and their ratio."""
    import torch
    from transformers import AutoModelForCausalLM

    element = 2 if bf16 else 4
    workload = Workload(
        task=task,
        seq_len=seq_len + (NEW_TOKENS if task == "inference" else 0),
        param_bytes=element,
        device="gpu" if device == "cuda" else "cpu",
        gradient_checkpointing=True,
    )
    predicted = estimate(spec, workload)
    meter = PeakMeter(device)
    meter.start()
    # Full fine-tuning keeps fp32 master weights under bf16 autocast; inference and LoRA a 16-bit base.
    model_dtype = torch.float32 if task == "full" or not bf16 else torch.bfloat16
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(hf_config(spec), dtype=model_dtype)
    ids = torch.randint(0, spec.vocab_size, (1, seq_len), device=device)
    if task == "inference":
        model.eval()
        with torch.no_grad():
            model.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
    else:
        _train_steps(model, ids, task, device, bf16)
    measured = meter.peak()
    del model
    return {
        "model": spec.name,
        "task": task,
        "seq_len": seq_len,
        "estimated_bytes": predicted.tensor_bytes,
        "measured_bytes": measured,
        "ratio": predicted.tensor_bytes / measured,
        "estimate": predicted.to_json(),
    }


def _train_steps(model: Any, ids: Any, task: str, device: str, bf16: bool) -> None:
    import contextlib

    import torch

    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if task == "lora":
        from peft import LoraConfig, get_peft_model

        model.enable_input_require_grads()
        model = get_peft_model(model, LoraConfig(r=16, target_modules="all-linear"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    autocast = (lambda: torch.autocast(device, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    for _ in range(2):
        with autocast():
            loss = model(ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def main() -> int:
    import torch

    out = Path(os.environ.get("OUT", "bench/results/gpu"))
    if not torch.cuda.is_available():
        sys.stderr.write("check_memory: FAILED: needs an NVIDIA GPU with CUDA (torch.cuda.is_available() is False)\n")
        return 1
    capacity = torch.cuda.get_device_properties(0).total_memory
    catalog = load_catalog()
    results, skipped = [], []
    for name, task in CASES:
        spec = find(catalog, name)
        needed = estimate(spec, Workload(task=task, seq_len=SEQ_LEN, gradient_checkpointing=True)).total_bytes
        if needed > 0.9 * capacity:
            skipped.append(f"{name} {task}: needs ~{needed / 2**30:.0f} GiB")
            continue
        result = run_case(spec, task, "cuda")
        results.append(result)
        print(f"{name:14s} {task:9s} estimated {result['estimated_bytes'] / 2**30:6.2f} GiB  "
              f"measured {result['measured_bytes'] / 2**30:6.2f} GiB  ratio {result['ratio']:.3f}", flush=True)
        torch.cuda.empty_cache()
    report = {
        "gpu": torch.cuda.get_device_name(0),
        "memory_bytes": capacity,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "tolerance": TOLERANCE,
        "results": results,
        "skipped": skipped,
    }
    atomic.write_json(out / "memory.json", report)
    off = [r for r in results if abs(r["ratio"] - 1) > TOLERANCE]
    if off:
        names = ", ".join(f"{r['model']} {r['task']} ({r['ratio']:.2f})" for r in off)
        sys.stderr.write(f"check_memory: FAILED: estimates off by more than 15%: {names}\n")
        return 1
    print(f"check_memory: OK ({len(results)} cases on {report['gpu']}, written to {out / 'memory.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
