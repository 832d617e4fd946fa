"""GPU check: bf16 LoRA, QLoRA and full fine-tuning steps of the bundled SmolLM2-135M on an NVIDIA GPU.

For each method: a short run of the real engine (packed batches, bf16 autocast) reporting
tokens/s and peak GPU memory (torch.cuda.max_memory_allocated). QLoRA needs bitsandbytes;
when it is missing the method is reported with the engine's own reason instead of figures.
Writes $OUT/train.json (default bench/results/gpu/train.json); exits 1 when any method failed.

    OUT=bench/results/gpu .venv/bin/python bench/gpu/check_train.py [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_train import cluster_dataset  # noqa: E402


def run_method(method: str, steps: int, home: Path, dataset: Path) -> dict:
    import torch

    from kubetrainer.config import Settings
    from kubetrainer.errors import Unavailable
    from kubetrainer.train import engine, runs
    from kubetrainer.train.config import TrainConfig

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    config = TrainConfig(
        dataset=dataset, method=method, max_steps=steps, batch_tokens=8192, max_seq_len=1024, precision="bf16",
        learning_rate=1e-5 if method == "full" else 2e-4, eval_fraction=0.0, eval_every=10**6, save_every=10**6,
        warmup_steps=1, run_id=f"gpu-check-{method}",
    )
    try:
        result = engine.run(config, Settings(home=home))
    except Unavailable as error:
        return {"method": method, "status": "unavailable", "reason": error.render()}
    rows = [row for row in runs.read_metrics(result.run_dir) if "loss" in row]
    return {
        "method": method, "status": "ok", "steps": result.steps, "tokens_per_second": rows[-1]["tokens_per_second"],
        "peak_memory_bytes": torch.cuda.max_memory_allocated(), "first_loss": rows[0]["loss"], "last_loss": rows[-1]["loss"],
    }


def main() -> int:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "bench/results/gpu"))
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        print("check_train: no CUDA GPU here; this check runs on an NVIDIA machine", file=sys.stderr)
        return 1
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "methods": []}
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(os.environ.get("KUBETRAINER_HOME", scratch))
        dataset = cluster_dataset(Path(scratch) / "cluster.jsonl")
        for method in ("lora", "qlora", "full"):
            try:
                figures = run_method(method, args.steps, home, dataset)
            except Exception as error:  # one method failing must not hide the others' figures
                traceback.print_exc()
                figures, failed = {"method": method, "status": "failed", "reason": f"{type(error).__name__}: {error}"}, True
            print(json.dumps(figures), flush=True)
            report["methods"].append(figures)
    (out / "train.json").write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
