"""Measure the peak resident memory one workload adds, in a fresh process.

    python memprobe.py '[{"model": {...ModelSpec fields...}, "task": "full", "seq_len": 128, ...}, ...]'

Prints a JSON list, one object per job, with `growth_bytes`: the peak RSS (VmHWM) while the model exists and
runs, minus the RSS before it was built. The high-water mark is reset through
/proc/self/clear_refs once the model is built, so import and initialisation peaks
do not count. Run it with MALLOC_MMAP_THRESHOLD_=131072 (see `ENV`): glibc then
returns every freed tensor to the OS at once instead of keeping a growing heap, so
RSS tracks the live tensors. Used by the
estimator tests (CPU) and shaped like bench/gpu/check_memory.py (GPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "OMP_NUM_THREADS": "1"}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _config(spec: dict):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=spec["vocab_size"],
        hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["attention_heads"],
        num_key_value_heads=spec["kv_heads"],
        head_dim=spec["head_dim"],
        max_position_embeddings=spec["context_length"],
        tie_word_embeddings=spec["tied_embeddings"],
    )


def _warm_up(torch) -> None:
    """Load the kernels (oneDNN, attention, AdamW) on a toy so their one-off buffers are not counted."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    toy = AutoModelForCausalLM.from_config(
        LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                    num_attention_heads=2, num_key_value_heads=1)
    )
    ids = torch.randint(0, 32, (1, 8))
    toy(ids, labels=ids).loss.backward()
    torch.optim.AdamW(toy.parameters()).step()
    with torch.no_grad():
        toy.generate(ids, max_new_tokens=2, do_sample=False, pad_token_id=0)


def run_all(jobs: list[dict]) -> list[dict]:
    """Measure each job in turn; everything one job allocates is freed before the next."""
    import gc

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    _warm_up(torch)
    results = []
    for job in jobs:
        results.append(run(job))
        gc.collect()
    return results


def run(job: dict) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    config = _config(job["model"])
    ids = torch.randint(0, config.vocab_size, (job.get("batch_size", 1), job["seq_len"]))
    before = _status_kib("VmRSS")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Random initialisation briefly holds an untied copy of the output head; a real load does not.
    Path("/proc/self/clear_refs").write_text("5")
    if job["task"] == "inference":
        model.eval()
        with torch.no_grad():
            model.generate(ids, max_new_tokens=job["new_tokens"], do_sample=False, pad_token_id=0)
    else:
        if job.get("gradient_checkpointing"):
            model.gradient_checkpointing_enable()
        if job["task"] == "lora":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=job["lora_rank"], target_modules="all-linear"))
        model.train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
        for _ in range(2):
            model(ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    peak = _status_kib("VmHWM")
    return {"growth_bytes": (peak - before) * 1024, "before_bytes": before * 1024}


if __name__ == "__main__":
    print(json.dumps(run_all(json.loads(sys.argv[1]))))
