"""Loading the bundled default model: first load (GGUF -> safetensors, once) vs later loads.

Ours: `load_causal_lm(None, models_dir)`. The first call dequantises the bundled
SmolLM2-135M-Instruct Q4_1 GGUF and saves a safetensors directory under models/;
every later call loads that directory. Baseline, in the same run: what a script does
without the cache, `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)` plus
the GGUF tokenizer, every time. Each load runs in a fresh process (imports excluded
from the timing, model + tokenizer included); times are wall seconds and CPU seconds
of that process, median of BENCH_LOAD_REPEATS (default 3) runs.
Writes bench/results/model_load.{md,json,png}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.progress import Progress

from kubetrainer import atomic

RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = int(os.environ.get("BENCH_LOAD_REPEATS", "3"))

TIMED = """
import json, sys, time
import torch, transformers
from kubetrainer.models import bundled
from kubetrainer.models.loader import load_causal_lm
kind, models_dir = sys.argv[1], sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
if kind == "gguf":
    gguf = bundled.smollm2_gguf_path()
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
else:
    model, tokenizer = load_causal_lm(None, models_dir)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
ids = tokenizer("The pod is in CrashLoopBackOff because", return_tensors="pt").input_ids
with torch.no_grad():
    logits = model(ids).logits[0, -1]
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "top_token": int(logits.argmax())}))
"""


def timed_load(kind: str, models_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", TIMED, kind, str(models_dir)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    models_dir = Path(tempfile.mkdtemp(prefix="bench-model-load-")) / "models"
    with Progress() as progress:
        task = progress.add_task("loading the bundled model", total=1 + 2 * REPEATS)
        first = timed_load("ours", models_dir)
        progress.advance(task)
        cached, gguf = [], []
        for _ in range(REPEATS):
            cached.append(timed_load("ours", models_dir))
            progress.advance(task)
            gguf.append(timed_load("gguf", models_dir))
            progress.advance(task)
    tokens = {first["top_token"], *(run["top_token"] for run in cached + gguf)}
    assert len(tokens) == 1, f"the converted model predicts differently from the GGUF: {tokens}"
    result = {
        "date": dt.date.today().isoformat(),
        "repeats": REPEATS,
        "load_avg": os.getloadavg()[0],
        "first_load": first,
        "cached_load": {"wall_s": median(cached, "wall_s"), "cpu_s": median(cached, "cpu_s")},
        "gguf_every_time": {"wall_s": median(gguf, "wall_s"), "cpu_s": median(gguf, "cpu_s")},
    }
    result["speedup_cpu"] = result["gguf_every_time"]["cpu_s"] / result["cached_load"]["cpu_s"]
    result["speedup_wall"] = result["gguf_every_time"]["wall_s"] / result["cached_load"]["wall_s"]
    write(result)


def write(result: dict) -> None:
    first, cached, gguf = result["first_load"], result["cached_load"], result["gguf_every_time"]
    row = "| {} | {:.2f} s | {:.2f} s |"
    markdown = "\n".join(
        [
            f"## Model load: the bundled default, converted once ({result['date']})",
            "",
            "`load_causal_lm(None, models_dir)` on SmolLM2-135M-Instruct: the first call dequantises the",
            "bundled Q4_1 GGUF and saves safetensors under `models/`; later calls load those. Baseline: loading",
            "the GGUF with transformers (`gguf_file=`) every time. Fresh process per load, imports excluded,",
            f"model + tokenizer included; median of {result['repeats']} runs (load average {result['load_avg']:.1f}).",
            "All loads predict the same next token. Plot: `bench/results/model_load.png`.",
            "",
            "| load | CPU | wall |",
            "|---|---|---|",
            row.format("first (GGUF -> safetensors, once)", first["cpu_s"], first["wall_s"]),
            row.format("**ours: cached safetensors**", cached["cpu_s"], cached["wall_s"]),
            row.format("baseline: GGUF every time", gguf["cpu_s"], gguf["wall_s"]),
            f"| **speedup (baseline / ours)** | **{result['speedup_cpu']:.1f}x** | {result['speedup_wall']:.1f}x |",
            "",
        ]
    )
    atomic.write_text(RESULTS / "model_load.md", markdown)
    atomic.write_json(RESULTS / "model_load.json", result)
    plot(result)


def plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["first load\n(conversion)", "ours: cached", "baseline:\nGGUF each time"]
    keys = ["first_load", "cached_load", "gguf_every_time"]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar(labels, [result[key]["cpu_s"] for key in keys], color=["#999999", "#2a9d8f", "#e76f51"])
    axis.set_ylabel("CPU seconds per load")
    axis.set_title("SmolLM2-135M-Instruct load time")
    figure.tight_layout()
    path = RESULTS / "model_load.png"
    with tempfile.NamedTemporaryFile(dir=RESULTS, suffix=".png", delete=False) as handle:
        figure.savefig(handle.name, dpi=120)
    os.replace(handle.name, path)
    plt.close(figure)


if __name__ == "__main__":
    main()
