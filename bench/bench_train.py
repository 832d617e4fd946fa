"""Training throughput: our packed LoRA run vs the two strongest standard padding-free set-ups.

Sides, each run `--repeats` times (default 3), interleaved (ours, trl, flat, ours, ...), each in a fresh subprocess:

- ours: `kubetrainer train`'s engine: samples packed into rows (position ids restart per sample, no padding),
  output head run on the target positions only.
- trl: TRL `SFTTrainer` with `SFTConfig(padding_free=True, completion_only_loss=True)` and the LoRA settings
  passed as `peft_config` (TRL's own padding-free collator and its chunked LM-head loss).
- flat: Hugging Face `Trainer` + PEFT with `transformers.DataCollatorWithFlattening` (padding-free).

Same model (the bundled SmolLM2-135M-Instruct), same rank-16 LoRA on all projections, same cluster-derived examples
tokenized by our tokenizer with the same response-only labels, fp32 on CPU (bf16 where a GPU has it, as ours),
same optimizer (AdamW, lr 2e-4, cosine, 1 warm-up step, clip 1.0), same number of optimizer steps. Ours fills each
step up to a token budget of `--examples-per-step` average examples; the baselines take `--examples-per-step`
examples per step in the order ours draws them (so both see the same examples, the baselines a few more at the end:
each side's token count is reported). Tokens/s count real tokens over the training loop (model load excluded);
memory is each run's peak RSS in its own process; final loss is the last step's mean loss per target token.
Writes bench/results/train.md and train.json.

    .venv/bin/python bench/bench_train.py [--steps 8] [--examples-per-step 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05}
MAX_SEQ_LEN = 256
SEED = 42
LEARNING_RATE = 2e-4
SIDES = ("ours", "trl", "flat")
DEFAULT_STEPS, DEFAULT_PER_STEP, QUIET_LOAD = 8, 16, 1.5  # QUIET_LOAD: scripts/bench_load.sh's limit
TITLES = {
    "ours": "ours (packed)",
    "trl": "TRL SFTTrainer, padding_free",
    "flat": "Trainer + DataCollatorWithFlattening",
}


def synthetic_records(count: int, seed: int = 0) -> list[dict]:
    """Cluster records with incidents of very different sizes (a few lines to dozens)."""
    from kubetrainer.records import make_record

    rng = random.Random(seed)
    records = []
    for index in range(count):
        ns, pod = rng.choice(["web", "ml", "db"]), f"svc-{index}"
        day = f"2026-01-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
        summary = (
            f"Pod {ns}/{pod}: CrashLoopBackOff, {rng.randint(2, 90)} restarts, last terminated: OOMKilled exit code 137"
        )
        records.append(
            make_record(
                "object",
                day,
                "dump",
                "",
                namespace=ns,
                pod=pod,
                object={"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns, "summary": summary},
            )
        )
        for line in range(rng.choice([0, 1, 2, 4, 8, 16, 32, 48])):
            message = (
                f"ERROR worker {line}: allocation of {rng.randint(1, 900)} MiB failed in batch {rng.randint(1, 10**6)}"
            )
            records.append(make_record("log", day, "dump", message, namespace=ns, pod=pod, container="app"))
    return records


def cluster_dataset(path: Path, records: int = 240) -> Path:
    """The benchmark's training file: cluster-derived Q/A pairs and anomaly text, as JSONL."""
    from kubetrainer.train.cluster_dataset import build_dataset

    document = build_dataset(synthetic_records(records), eval_fraction=0.0, source="bench")
    path.write_text("".join(json.dumps(record) + "\n" for record in document["train"]))
    return path


def tokenized(dataset: Path, tokenizer):
    """Exactly the examples (and response-only labels) our engine trains on."""
    from kubetrainer.train.formats import load_dataset
    from kubetrainer.train.tokenize import tokenize_all

    return tokenize_all(tokenizer, load_dataset(dataset)[1], max_seq_len=MAX_SEQ_LEN, train_on_prompt=False)


def data_digest(pairs) -> str:
    """A fingerprint of (input_ids, labels) pairs in order: equal digests, the same token sequences and targets."""
    import hashlib

    return hashlib.sha256(json.dumps([[list(ids), list(labels)] for ids, labels in pairs]).encode()).hexdigest()


def batch_tokens_for(examples, per_step: int) -> int:
    """Our token budget per optimizer step: `per_step` average examples."""
    return int(sum(len(e.input_ids) for e in examples) / len(examples) * per_step)


def step_plan(examples, steps: int, per_step: int) -> tuple[list[list[int]], list[int]]:
    """(our first `steps` batches as example indices, the example order the baselines take).

    The engine's own planner (seed, epoch), so the batches are the ones `engine.run` trains on; the order runs on
    past them until it holds `steps * per_step` examples, as many as the baselines consume.
    """
    from kubetrainer.train.packing import plan_batches

    budget = batch_tokens_for(examples, per_step)
    batches: list[list[int]] = []
    epoch = 0
    while sum(map(len, batches)) < steps * per_step or len(batches) < steps:
        plan = plan_batches(examples, batch_tokens=budget, row_tokens=min(MAX_SEQ_LEN, budget), seed=SEED, epoch=epoch)
        batches += [list(batch.example_indices) for batch in plan]
        epoch += 1
    order = [index for batch in batches for index in batch][: steps * per_step]
    return batches[:steps], order


def run_ours(model_dir: Path, dataset: Path, steps: int, per_step: int, home: Path) -> dict:
    """Our engine, with a token budget per step equal to `per_step` average examples."""
    from transformers import AutoTokenizer

    from kubetrainer.config import Settings
    from kubetrainer.train import engine, runs
    from kubetrainer.train.config import TrainConfig

    examples = tokenized(dataset, AutoTokenizer.from_pretrained(model_dir))
    batches, _ = step_plan(examples, steps, per_step)
    config = TrainConfig(
        dataset=dataset,
        model=str(model_dir),
        lora_rank=LORA["r"],
        lora_alpha=LORA["lora_alpha"],
        lora_dropout=LORA["lora_dropout"],
        learning_rate=LEARNING_RATE,
        max_steps=steps,
        batch_tokens=batch_tokens_for(examples, per_step),
        max_seq_len=MAX_SEQ_LEN,
        eval_fraction=0.0,
        eval_every=10**6,
        save_every=10**6,
        warmup_steps=1,
        seed=SEED,
    )
    result = engine.run(config, Settings(home=home))
    rows = [row for row in runs.read_metrics(result.run_dir) if "loss" in row]
    tokens = sum(len(examples[index].input_ids) for batch in batches for index in batch)
    speed = rows[-1]["tokens_per_second"]
    trained = [examples[index] for batch in batches for index in batch]
    return {
        "tokens_per_second": speed,
        "tokens": tokens,
        "examples": len(trained),
        "data_digest": data_digest((e.input_ids, e.labels) for e in trained),
        "train_seconds": tokens / speed,
        "final_loss": rows[-1]["loss"],
        "steps": len(rows),
    }


def _baseline_data(model_dir: Path, dataset: Path, steps: int, per_step: int):
    """(tokenizer, the baselines' examples in our draw order, fp32/bf16 flag)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    examples = tokenized(dataset, tokenizer)
    _, order = step_plan(examples, steps, per_step)
    return tokenizer, [examples[index] for index in order], torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _base_model(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False  # else a cache is built and the packed-sequence mask is not used
    return model


def _lora_config():
    from peft import LoraConfig

    from kubetrainer.train.model_setup import LLAMA_LIKE

    return LoraConfig(**LORA, target_modules=LLAMA_LIKE, task_type="CAUSAL_LM")


def _common_args(home: Path, steps: int, per_step: int, bf16: bool) -> dict:
    """TrainingArguments shared by both baselines: ours' optimizer, schedule and precision, no saving or eval."""
    import torch

    return {
        "output_dir": str(home / "hf"),
        "per_device_train_batch_size": per_step,
        "gradient_accumulation_steps": 1,
        "max_steps": steps,
        "learning_rate": LEARNING_RATE,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "warmup_steps": 1,
        "lr_scheduler_type": "cosine",
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": not torch.cuda.is_available(),
        "seed": SEED,
        "bf16": bf16,
        "fp16": False,
        "gradient_checkpointing": False,
        "train_sampling_strategy": "sequential",
        "dataloader_num_workers": 0,
        # padding-free batches hold no padding, so every input token is a real one
        "include_num_input_tokens_seen": "all",
        "disable_tqdm": True,
    }


def _clock():
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        """Times the training loop (after set-up, as ours does) and reads the tokens fed to the model."""

        started = elapsed = 0.0
        tokens = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.elapsed = time.perf_counter() - self.started
            self.tokens = state.num_input_tokens_seen

    return Clock()


def _figures(trainer, clock) -> dict:
    """The run's figures; the digest is of the dataset as the trainer holds it (after TRL's own preparation)."""
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    data = trainer.train_dataset
    digest = data_digest(zip(data["input_ids"], data["labels"], strict=True))
    return {
        "tokens_per_second": clock.tokens / clock.elapsed,
        "tokens": clock.tokens,
        "examples": len(data),
        "data_digest": digest,
        "train_seconds": clock.elapsed,
        "final_loss": losses[-1],
        "steps": trainer.state.global_step,
    }


def run_trl(model_dir: Path, dataset: Path, steps: int, per_step: int, home: Path) -> dict:
    """TRL's SFTTrainer, padding-free, completion-only loss (our labels as its completion mask), LoRA via peft_config."""
    from trl import SFTConfig, SFTTrainer

    from datasets import Dataset
    from kubetrainer.train.tokenize import IGNORE

    tokenizer, examples, bf16 = _baseline_data(model_dir, dataset, steps, per_step)
    data = Dataset.from_list(
        [{"input_ids": e.input_ids, "completion_mask": [int(label != IGNORE) for label in e.labels]} for e in examples]
    )
    args = SFTConfig(
        **_common_args(home, steps, per_step, bf16),
        padding_free=True,
        completion_only_loss=True,
        max_length=None,
        packing=False,
        shuffle_dataset=False,
    )
    clock = _clock()
    trainer = SFTTrainer(
        model=_base_model(model_dir),
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=_lora_config(),
        callbacks=[clock],
    )
    trainer.train()
    return _figures(trainer, clock)


def run_flat(model_dir: Path, dataset: Path, steps: int, per_step: int, home: Path) -> dict:
    """Hugging Face Trainer + PEFT LoRA with DataCollatorWithFlattening: each batch one padding-free row."""
    from peft import get_peft_model
    from transformers import DataCollatorWithFlattening, Trainer, TrainingArguments

    from datasets import Dataset

    tokenizer, examples, bf16 = _baseline_data(model_dir, dataset, steps, per_step)
    data = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    model = get_peft_model(_base_model(model_dir), _lora_config())
    clock = _clock()
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**_common_args(home, steps, per_step, bf16)),
        train_dataset=data,
        data_collator=DataCollatorWithFlattening(),
        processing_class=tokenizer,
        callbacks=[clock],
    )
    trainer.train()
    return _figures(trainer, clock)


RUNNERS = {"ours": run_ours, "trl": run_trl, "flat": run_flat}


def worker(kind: str, steps: int, per_step: int, out: Path) -> None:
    from kubetrainer.config import default_settings
    from kubetrainer.models.bundled import ensure_default_llm

    model_dir = ensure_default_llm(default_settings().dir("models"))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        dataset = cluster_dataset(Path(home) / "bench.jsonl")
        figures = RUNNERS[kind](model_dir, dataset, steps, per_step, Path(home))
    figures["wall_seconds"] = time.perf_counter() - started
    figures["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--examples-per-step", type=int, default=DEFAULT_PER_STEP)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=SIDES)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.examples_per_step, args.out)
        return
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    loads = [os.getloadavg()[0]]
    for repeat in range(args.repeats):
        for side in SIDES:
            print(
                f"bench_train: {side} {repeat + 1}/{args.repeats} ({args.steps} steps, "
                f"{args.examples_per_step} examples/step; load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
            with tempfile.NamedTemporaryFile(suffix=".json") as handle:
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--worker",
                        side,
                        "--steps",
                        str(args.steps),
                        "--examples-per-step",
                        str(args.examples_per_step),
                        "--out",
                        handle.name,
                    ],
                    check=True,
                )
                figures = json.loads(Path(handle.name).read_text())
            figures["load_after"] = os.getloadavg()[0]
            loads.append(figures["load_after"])
            runs[side].append(figures)
    write_results(runs, args.steps, args.examples_per_step, loads)


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Median and min-max per side and metric, and ours against the faster baseline (median / median)."""
    metrics = ("tokens_per_second", "peak_rss_bytes", "final_loss", "train_seconds", "wall_seconds", "tokens")
    sides = {
        side: {metric: spread([run[metric] for run in side_runs]) for metric in metrics}
        for side, side_runs in runs.items()
    }
    baselines = [side for side in sides if side != "ours"]
    faster = max(baselines, key=lambda side: sides[side]["tokens_per_second"]["median"])
    rounds = []  # the sides ran interleaved: round i is each side's i-th run, under much the same load
    for index in range(min(len(side_runs) for side_runs in runs.values())):
        best = max(runs[side][index]["tokens_per_second"] for side in baselines)
        loads = [runs[side][index].get("load_after", 0.0) for side in runs]
        rounds.append(
            {"ratio": runs["ours"][index]["tokens_per_second"] / best, "load_min": min(loads), "load_max": max(loads)}
        )
    return {
        "sides": sides,
        "faster_baseline": faster,
        "rounds": rounds,
        "throughput_ratio": sides["ours"]["tokens_per_second"]["median"] / sides[faster]["tokens_per_second"]["median"],
        "memory_ratio": sides["ours"]["peak_rss_bytes"]["median"] / sides[faster]["peak_rss_bytes"]["median"],
    }


def write_results(runs: dict[str, list[dict]], steps: int, per_step: int, loads: list[float]) -> None:
    import peft
    import torch
    import transformers
    import trl

    summary = summarise(runs)
    load = {
        "start": round(loads[0], 2),
        "min": round(min(loads), 2),
        "max": round(max(loads), 2),
        "end": round(loads[-1], 2),
    }
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "steps": steps,
        "examples_per_step": per_step,
        "repeats": len(runs["ours"]),
        "load_1min": load,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "trl": trl.__version__,
        },
        **summary,
        "runs": runs,
        "target": "throughput_ratio >= 1.5 and memory_ratio <= 1.0",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "train.md").write_text(render(document))


def render(document: dict) -> str:
    sides, faster = document["sides"], document["faster_baseline"]
    ratio, memory = document["throughput_ratio"], document["memory_ratio"]
    gib = 2**30
    met = "met" if ratio >= 1.5 and memory <= 1.0 else "not met"
    if met == "met" and any(r["ratio"] < 1.5 for r in document.get("rounds", [])):
        met = "met on the medians, not in every round"

    def cell(side: str, metric: str, fmt: str, scale: float = 1.0) -> str:
        value = sides[side][metric]
        return f"{value['median'] / scale:{fmt}} ({value['min'] / scale:{fmt}}–{value['max'] / scale:{fmt}})"

    order = ["ours"] + [side for side in SIDES if side != "ours" and side in sides]
    load, versions = document["load_1min"], document["versions"]
    steps, per_step = document["steps"], document["examples_per_step"]
    notes = []
    if (steps, per_step) != (DEFAULT_STEPS, DEFAULT_PER_STEP):
        notes.append(
            f"**Reduced size** ({steps} steps of {per_step}), not the default {DEFAULT_STEPS} steps of"
            f" {DEFAULT_PER_STEP} (`.venv/bin/python bench/bench_train.py`, or `make bench ONLY=train`)."
        )
    if load["start"] > QUIET_LOAD:
        notes.append(
            f"The load was above `make bench`'s quiet limit of {QUIET_LOAD}: other work shared the CPUs, so absolute"
            " figures are low and noisy; the sides alternate, so each met much the same load."
        )
    else:  # two training threads on two cores keep the 1-minute average near 2 for a minute after each run
        notes.append("Between runs the 1-minute load still counts the previous run's own two training threads.")
    lines = [
        "## Fine-tuning throughput (LoRA, SmolLM2-135M, CPU)",
        "",
        f"Run {document['date']}: {steps} optimizer steps of {per_step} variable-length cluster-derived examples"
        " (`bench/bench_train.py`), rank-16 LoRA on all projections, fp32 on CPU; each side run"
        f" {document['repeats']} times, interleaved, each in a fresh process. 1-minute load average (`os.getloadavg`):"
        f" {load['start']} at the start, {load['min']}–{load['max']} between runs, {load['end']} at the end."
        + "".join(" " + note for note in notes),
        "",
        "Baselines are the standard padding-free set-ups: **TRL** `SFTTrainer` with"
        " `SFTConfig(padding_free=True, completion_only_loss=True)` and LoRA as `peft_config`, and Hugging Face"
        " `Trainer` + PEFT with `DataCollatorWithFlattening` (model `use_cache=False`, without which SDPA lets"
        " flattened samples attend to each other). All three train on the same tokenized examples, in the same order,"
        " with the same response-only labels, optimizer (AdamW, lr 2e-4, cosine, clip 1.0), precision and no gradient"
        f" checkpointing. Ours fills each step to a budget of {per_step} average examples' tokens, the baselines take"
        f" {per_step} examples, so the token counts (last row) and the losses differ a little. Tokens/s count real tokens"
        " over the training loop (model load excluded); memory is each run's peak RSS; final loss is the last step's"
        " mean loss per target token. Median (min–max) over the runs; torch"
        f" {versions['torch']}, transformers {versions['transformers']}, peft {versions['peft']}, trl {versions['trl']}.",
        "",
        "Where the difference comes from: ours packs samples into rows of at most 256 tokens and runs the output head"
        " on target positions only. The baselines put each step's examples in one flattened row, and on CPU SDPA"
        " computes that row's full attention under a block-diagonal mask, so their attention cost grows with the"
        " square of the step's tokens; flash-attention's varlen kernels on a GPU avoid that, and that comparison has not"
        ' been run. Until 2026-12-01 the baseline here was `Trainer` + `DataCollatorForSeq2Seq(padding="longest")`'
        " (ours 1.82x), which mostly measured padding that no padding-free set-up pays; it is no longer run.",
        "",
        f"Ours vs the faster baseline ({TITLES[faster]}), median/median: **{ratio:.2f}x** tokens/s at"
        f" **{memory:.2f}x** the peak memory. Target >= 1.5x at no more memory: **{met}**. Round by round (each"
        " side's i-th run, back to back), ours / that round's faster baseline: "
        + ", ".join(
            f"{r['ratio']:.2f}x (load {r['load_min']:.1f}–{r['load_max']:.1f})" for r in document.get("rounds", [])
        )
        + ".",
        "",
        "| | " + " | ".join(TITLES[side] for side in order) + " |",
        "|---|" + "---|" * len(order),
        "| tokens/s | " + " | ".join(cell(side, "tokens_per_second", ".0f") for side in order) + " |",
        "| peak RSS (GiB) | " + " | ".join(cell(side, "peak_rss_bytes", ".2f", gib) for side in order) + " |",
        "| final loss | " + " | ".join(cell(side, "final_loss", ".3f") for side in order) + " |",
        "| training loop (s) | " + " | ".join(cell(side, "train_seconds", ".1f") for side in order) + " |",
        "| wall time incl. load (s) | " + " | ".join(cell(side, "wall_seconds", ".1f") for side in order) + " |",
        "| tokens trained per run | " + " | ".join(f"{sides[side]['tokens']['median']:.0f}" for side in order) + " |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
