"""Training throughput: our packed LoRA run vs a plain Hugging Face Trainer + PEFT script.

Same model (the bundled SmolLM2-135M-Instruct), same LoRA settings, same cluster-derived
variable-length examples with the same response-only labels, same examples per optimizer
step, same number of steps. The baseline pads each batch to its longest example (the
usual DataCollatorForSeq2Seq set-up); ours packs them padding-free and runs the output
head on the target positions only. Throughput counts
real (non-padding) tokens per second; memory is each run's peak RSS, measured in its
own process. Writes bench/results/train.md and train.json.

    .venv/bin/python bench/bench_train.py [--steps 8] [--examples-per-step 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05}
MAX_SEQ_LEN = 256


def synthetic_records(count: int, seed: int = 0) -> list[dict]:
    """Cluster records with incidents of very different sizes (a few lines to dozens)."""
    from kubetrainer.records import make_record

    rng = random.Random(seed)
    records = []
    for index in range(count):
        ns, pod = rng.choice(["web", "ml", "db"]), f"svc-{index}"
        day = f"2026-01-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
        records.append(make_record("object", day, "dump", "", namespace=ns, pod=pod, object={
            "apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns,
            "summary": f"Pod {ns}/{pod}: CrashLoopBackOff, {rng.randint(2, 90)} restarts, last terminated: OOMKilled exit code 137"}))
        for line in range(rng.choice([0, 1, 2, 4, 8, 16, 32, 48])):
            records.append(make_record("log", day, "dump", f"ERROR worker {line}: allocation of {rng.randint(1, 900)} MiB failed in batch {rng.randint(1, 10**6)}",
                                       namespace=ns, pod=pod, container="app"))
    return records


def cluster_dataset(path: Path) -> Path:
    """The benchmark's training file: cluster-derived Q/A pairs and anomaly text, as JSONL."""
    from kubetrainer.train.cluster_dataset import build_dataset

    document = build_dataset(synthetic_records(240), eval_fraction=0.0, source="bench")
    path.write_text("".join(json.dumps(record) + "\n" for record in document["train"]))
    return path


def tokenized(dataset: Path, tokenizer):
    """Exactly the examples (and response-only labels) our engine trains on."""
    from kubetrainer.train.formats import load_dataset
    from kubetrainer.train.tokenize import tokenize_all

    return tokenize_all(tokenizer, load_dataset(dataset)[1], max_seq_len=MAX_SEQ_LEN, train_on_prompt=False)


def run_ours(model_dir: Path, steps: int, per_step: int, home: Path) -> dict:
    """Our engine, with a token budget per micro-batch equal to `per_step` average examples."""
    from transformers import AutoTokenizer

    from kubetrainer.config import Settings
    from kubetrainer.train import engine, runs
    from kubetrainer.train.config import TrainConfig

    dataset = cluster_dataset(home / "bench.jsonl")
    examples = tokenized(dataset, AutoTokenizer.from_pretrained(model_dir))
    mean_tokens = sum(len(e.input_ids) for e in examples) / len(examples)
    config = TrainConfig(
        dataset=dataset, model=str(model_dir), lora_rank=LORA["r"], lora_alpha=LORA["lora_alpha"], lora_dropout=LORA["lora_dropout"],
        max_steps=steps, batch_tokens=int(mean_tokens * per_step), max_seq_len=MAX_SEQ_LEN, eval_fraction=0.0,
        eval_every=10**6, save_every=10**6, warmup_steps=1,
    )
    result = engine.run(config, Settings(home=home))
    rows = [row for row in runs.read_metrics(result.run_dir) if "loss" in row]
    return {"tokens_per_second": rows[-1]["tokens_per_second"], "final_loss": rows[-1]["loss"]}


def run_baseline(model_dir: Path, steps: int, per_step: int, home: Path) -> dict:
    """The usual script: Trainer, PEFT LoRA on the same modules, batches padded to their longest example."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from datasets import Dataset
    from kubetrainer.train.model_setup import LLAMA_LIKE

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    examples = tokenized(cluster_dataset(home / "bench.jsonl"), tokenizer)
    data = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
        LoraConfig(**LORA, target_modules=LLAMA_LIKE, task_type="CAUSAL_LM"),
    )
    real_tokens = [0]

    class CountRealTokens(TrainerCallback):
        """Counts the non-padding tokens of every batch the Trainer feeds the model."""

        def on_step_end(self, args, state, control, **kwargs):
            real_tokens[0] = state.num_input_tokens_seen

    args = TrainingArguments(
        output_dir=str(home / "hf"), per_device_train_batch_size=per_step, max_steps=steps, learning_rate=2e-4,
        warmup_steps=1, lr_scheduler_type="cosine", logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        seed=42, remove_unused_columns=False, include_num_input_tokens_seen="non_padding",
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest"),
                      callbacks=[CountRealTokens()])
    started = time.perf_counter()
    output = trainer.train()
    return {"tokens_per_second": real_tokens[0] / (time.perf_counter() - started), "final_loss": output.training_loss}


def worker(kind: str, steps: int, per_step: int, out: Path) -> None:
    from kubetrainer.config import default_settings
    from kubetrainer.models.bundled import ensure_default_llm

    model_dir = ensure_default_llm(default_settings().dir("models"))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        figures = (run_ours if kind == "ours" else run_baseline)(model_dir, steps, per_step, Path(home))
    figures["wall_seconds"] = time.perf_counter() - started
    figures["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--examples-per-step", type=int, default=16)
    parser.add_argument("--worker", choices=["ours", "baseline"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.examples_per_step, args.out)
        return
    figures = {}
    for kind in ("ours", "baseline"):
        print(f"bench_train: running {kind} ({args.steps} steps, {args.examples_per_step} examples/step)", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            subprocess.run([sys.executable, __file__, "--worker", kind, "--steps", str(args.steps),
                            "--examples-per-step", str(args.examples_per_step), "--out", handle.name], check=True)
            figures[kind] = json.loads(Path(handle.name).read_text())
    write_results(figures, args.steps, args.examples_per_step)


def write_results(figures: dict, steps: int, per_step: int) -> None:
    ours, base = figures["ours"], figures["baseline"]
    speedup = ours["tokens_per_second"] / base["tokens_per_second"]
    memory = ours["peak_rss_bytes"] / base["peak_rss_bytes"]
    summary = {"date": time.strftime("%Y-%m-%d"), "load_avg": round(os.getloadavg()[0], 1), "steps": steps, "examples_per_step": per_step, "ours": ours, "baseline": base,
               "throughput_ratio": speedup, "memory_ratio": memory, "target": "throughput_ratio >= 1.5 and memory_ratio <= 1.0"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
    gib = 2**30
    (RESULTS / "train.md").write_text(f"""## Fine-tuning throughput (LoRA, SmolLM2-135M, CPU)

Run {summary['date']} (load average {summary['load_avg']} at the end): {steps} optimizer steps of {per_step}
variable-length cluster-derived examples each (`bench/bench_train.py`), rank-16 LoRA on all projections, fp32 on CPU.
Ours packs them padding-free (position ids restart per sample) and runs the output head on target positions only;
the baseline is a plain Hugging Face `Trainer` + PEFT script padding each batch to its longest example. Tokens/s
count real tokens only; memory is each run's peak RSS in its own process.
Target: >= 1.5x throughput at no more memory: **{'met' if speedup >= 1.5 and memory <= 1.0 else 'not met'}**.

| | ours (packed) | HF Trainer + PEFT | ratio |
|---|---|---|---|
| tokens/s | {ours['tokens_per_second']:.0f} | {base['tokens_per_second']:.0f} | {speedup:.2f}x |
| peak RSS | {ours['peak_rss_bytes'] / gib:.2f} GiB | {base['peak_rss_bytes'] / gib:.2f} GiB | {memory:.2f} |
| wall time ({steps} steps, incl. load) | {ours['wall_seconds']:.1f} s | {base['wall_seconds']:.1f} s | |
""")


if __name__ == "__main__":
    main()
