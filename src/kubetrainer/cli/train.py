"""`kubetrainer train`, `kubetrainer dataset build` and `kubetrainer export`: parse, call the train stage, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer import outputs
from kubetrainer.cli import app, render
from kubetrainer.cli.options import Force
from kubetrainer.cli.state import STATE
from kubetrainer.errors import UserError

dataset_app = typer.Typer(help="Build training data from cluster records.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


# TrainConfig fields whose flag is not the field's name with dashes.
FLAG_OF_FIELD = {"lora_rank": "--rank", "lora_alpha": "--alpha", "lora_dropout": "--dropout", "learning_rate": "--lr",
                 "early_stopping_patience": "--early-stopping", "distill_temperature": "--temperature",
                 "distill_weight": "--weight"}


def _config(values: dict):
    from pydantic import ValidationError

    from kubetrainer.train.config import TrainConfig

    try:
        return TrainConfig(**{key: value for key, value in values.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        flag = FLAG_OF_FIELD.get(field, f"--{field}".replace("_", "-")) if field else "kubetrainer train"
        raise UserError(first["msg"].removeprefix("Value error, "), where=flag) from None


@app.command()
def train(
    dataset: Annotated[Optional[Path], typer.Option(help="JSON/JSONL (alpaca, chat, prompt/completion, text) or a datasets dir.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Hub/catalog id or local dir; default: the bundled SmolLM2-135M.")] = None,
    method: Annotated[str, typer.Option(help="lora | qlora | full")] = "lora",
    eval_dataset: Annotated[Optional[Path], typer.Option(help="Eval data; default: the dataset's eval split or a held-out 10%.")] = None,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    alpha: Annotated[int, typer.Option(help="LoRA alpha.")] = 32,
    dropout: Annotated[float, typer.Option(help="LoRA dropout.")] = 0.05,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    schedule: Annotated[str, typer.Option(help="cosine | linear | constant")] = "cosine",
    warmup_steps: Annotated[Optional[int], typer.Option(help="Linear warm-up steps (default 10% of the run).")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 1,
    max_steps: Annotated[Optional[int], typer.Option(help="Optimizer steps (overrides --epochs).")] = None,
    batch_tokens: Annotated[int, typer.Option(help="Tokens per packed micro-batch per process.")] = 2048,
    max_seq_len: Annotated[int, typer.Option(help="Longest example and packed row length in tokens.")] = 512,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    grad_checkpointing: Annotated[bool, typer.Option(help="Recompute activations to save memory.")] = False,
    precision: Annotated[str, typer.Option(help="auto | fp32 | bf16 | fp16 (autocast on GPUs)")] = "auto",
    train_on_prompt: Annotated[bool, typer.Option(help="Also learn the prompt tokens, not only responses.")] = False,
    eval_every: Annotated[int, typer.Option(help="Evaluate every N steps.")] = 50,
    early_stopping: Annotated[Optional[int], typer.Option(help="Stop after N evals without improvement.")] = None,
    save_every: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of data order, init and dropout.")] = 42,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the latest run (or --run-id) from its last checkpoint.")] = False,
    run_id: Annotated[Optional[str], typer.Option(help="Name of the run directory under <home>/runs/.")] = None,
    nproc: Annotated[int, typer.Option(min=1, help="Processes on this node, launched through torchrun.")] = 1,
    fsdp: Annotated[bool, typer.Option("--fsdp", help="Shard parameters, grads and optimizer (FULL_SHARD).")] = False,
    deepspeed: Annotated[Optional[str], typer.Option(help="zero2 | zero3 (needs the deepspeed extra).")] = None,
    teacher: Annotated[Optional[str], typer.Option(help="Distil from this model's logits (same vocabulary); see `kubetrainer distill`.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fine-tune with LoRA, QLoRA or full fine-tuning; outputs go to <home>/runs/<run-id>/."""
    if dataset is None and not resume:
        raise UserError("no training data given", where="--dataset", expected="a JSON/JSONL file or a datasets directory")
    config = _config(dict(
        dataset=dataset or Path("."), model=model, method=method, eval_dataset=eval_dataset, lora_rank=rank, lora_alpha=alpha,
        lora_dropout=dropout, learning_rate=lr, schedule=schedule, warmup_steps=warmup_steps, epochs=epochs, max_steps=max_steps,
        batch_tokens=batch_tokens, max_seq_len=max_seq_len, grad_accum=grad_accum, grad_checkpointing=grad_checkpointing,
        precision=precision, train_on_prompt=train_on_prompt, eval_every=eval_every, early_stopping_patience=early_stopping,
        save_every=save_every, seed=seed, run_id=run_id, fsdp=fsdp, deepspeed=deepspeed, teacher=teacher,
    ))
    _run(config, resume=resume, nproc=nproc, json_out=json_out)


@app.command()
def distill(
    teacher: Annotated[str, typer.Option(help="The bigger model whose next-token distributions the student learns.")],
    dataset: Annotated[Path, typer.Option(help="JSON/JSONL (alpaca, chat, prompt/completion, text) or a datasets dir.")],
    student: Annotated[Optional[str], typer.Option(help="Hub/catalog id or local dir of the same family; default: the bundled SmolLM2-135M.")] = None,
    method: Annotated[str, typer.Option(help="full (default: the student becomes the edge model) | lora | qlora")] = "full",
    temperature: Annotated[float, typer.Option(help="Softmax temperature of the KL term.")] = 2.0,
    weight: Annotated[float, typer.Option(help="Weight of the KL term (0..1); cross-entropy on the labels gets the rest.")] = 0.5,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 5e-5,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 1,
    max_steps: Annotated[Optional[int], typer.Option(help="Optimizer steps (overrides --epochs).")] = None,
    batch_tokens: Annotated[int, typer.Option(help="Tokens per packed micro-batch per process.")] = 2048,
    max_seq_len: Annotated[int, typer.Option(help="Longest example and packed row length in tokens.")] = 512,
    eval_every: Annotated[int, typer.Option(help="Evaluate every N steps.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of data order, init and dropout.")] = 42,
    run_id: Annotated[Optional[str], typer.Option(help="Name of the run directory under <home>/runs/.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Logit distillation: train a small student on a teacher's softened distributions and the labels (train.distill).

    The result is a training run like `kubetrainer train`'s: `export RUN --gguf --quant q4_k_m` makes it an edge model.
    For sequence-level distillation as well, build DATA with `kubetrainer dataset build --teacher MODEL` first: the
    teacher's guarded phrasing then becomes the labels.
    """
    config = _config(dict(
        dataset=dataset, model=student, method=method, teacher=teacher, distill_temperature=temperature,
        distill_weight=weight, learning_rate=lr, epochs=epochs, max_steps=max_steps, batch_tokens=batch_tokens,
        max_seq_len=max_seq_len, eval_every=eval_every, seed=seed, run_id=run_id,
    ))
    _run(config, resume=False, nproc=1, json_out=json_out)


def _run(config, *, resume: bool, nproc: int, json_out: bool) -> None:
    """Train (here, or under torchrun for several processes or DeepSpeed) and render the result."""
    from kubetrainer.train import engine, launch, runs

    settings = STATE.settings
    if nproc > 1 or config.deepspeed:  # DeepSpeed always runs under torchrun, which gives it its process group
        run_dir = launch.run_distributed(config, settings, nproc=nproc, resume=resume)
        summary = {"run_dir": str(run_dir), "metrics": runs.read_metrics(run_dir)[-1:]}
        render.print_json(summary) if json_out else render.console.print(f"run finished: {run_dir}")
        return
    result = engine.run(config, settings, resume=resume, notify=render.note)
    if json_out:
        render.print_json(result.to_json())
        return
    render.console.print(f"trained {result.steps} steps on {result.train_examples} examples ({result.dataset_format})")
    if result.first_eval_loss is not None:
        render.console.print(f"eval loss {result.first_eval_loss:.4f} -> {result.last_eval_loss:.4f}")
    render.console.print(f"output: {result.output_dir}  (also: {settings.dir('runs') / 'latest'})")


@dataset_app.command("build")
def dataset_build(
    source: Annotated[Path, typer.Option(help="Records JSONL or a `kubectl cluster-info dump` directory.")],
    out: Annotated[Path, typer.Option(help="Where to write the cluster_texts.json-shaped dataset.")] = Path("datasets/cluster_texts.json"),
    eval_fraction: Annotated[float, typer.Option(help="Share of incidents held out for eval.")] = 0.2,
    teacher: Annotated[Optional[str], typer.Option(help="Sequence-level distillation: this model phrases the train targets (kept where the answer guard accepts them).")] = None,
    force: Force = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Derive grounded Q/A pairs and anomaly text from cluster records, redacted, split by incident."""
    out = outputs.claim(out, force=force, kind="file")
    summary = _build_dataset(source, out, eval_fraction, teacher)
    if json_out:
        render.print_json(summary)
        return
    render.console.print(f"wrote {out}: {summary['train']} train / {summary['eval']} eval examples from {summary['records']} records")
    _note_teacher(summary)
    for problem in summary["skipped"]:
        render.note(f"skipped: {problem}")


def _build_dataset(source: Path, out: Path, eval_fraction: float, teacher: str | None) -> dict:
    """`build_from_source`, with the teacher loaded as a phraser and its progress shown."""
    from kubetrainer.train.cluster_dataset import build_from_source

    if teacher is None:
        return build_from_source(source, out, eval_fraction=eval_fraction)
    from kubetrainer.answer.phrase import load_phraser

    phraser = load_phraser(teacher, STATE.settings.dir("models"))
    with render.progress() as progress:
        task = progress.add_task(f"{teacher} phrasing train targets", total=None)
        return build_from_source(source, out, eval_fraction=eval_fraction, teacher=phraser,
                                 progress=lambda done, total: progress.update(task, completed=done, total=total))


def _note_teacher(summary: dict) -> None:
    written = summary.get("teacher")
    if written:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(written["refused"].items()))
        render.note(f"the teacher wrote {written['written']} of {written['targets']} train targets"
                    + (f"; the guard refused the rest ({reasons})" if reasons else ""))


@app.command()
def export(
    source: Annotated[str, typer.Argument(help="A run, checkpoint, adapter or model dir, ./checkpoints/latest; with --gguf also a Hub id or catalog name (smollm2-135m: the bundled default).")],
    out: Annotated[Path, typer.Option(help="New or empty output directory.")],
    merge: Annotated[bool, typer.Option("--merge", help="Merge the LoRA adapter into its base model.")] = False,
    gguf: Annotated[bool, typer.Option("--gguf", help="Write a GGUF for llama.cpp (an adapter is merged first) and score it.")] = False,
    quant: Annotated[Optional[str], typer.Option(help="With --gguf: f16 (default) | f32 | q8_0 | q4_k_m | q4_0 (these need llama-cpp-python).")] = None,
    eval_text: Annotated[Optional[Path], typer.Option(help="With --gguf: text to compare perplexities on; default: held-out sample cluster logs.")] = None,
    eval_tokens: Annotated[int, typer.Option(min=0, help="With --gguf: tokens of that text to score (0: skip the comparison).")] = 2048,
    force: Force = False,
    json_out: Annotated[bool, typer.Option("--json", help="With --gguf: print the report as JSON.")] = False,
) -> None:
    """Save a run's adapter, merge it into the base as a plain model directory, or export a (quantized) GGUF."""
    from kubetrainer.train.export import export as export_model

    settings = STATE.settings
    if not gguf:
        for flag, value in (("--quant", quant), ("--eval-text", eval_text), ("--json", json_out or None)):
            if value is not None:
                raise UserError(f"{flag} applies to a GGUF export", where=flag, expected="--gguf as well")
    out = outputs.claim(out, force=force)
    if gguf:
        _export_gguf(source, out, quant=quant or "f16", eval_text=eval_text, eval_tokens=eval_tokens, json_out=json_out)
        return
    written = export_model(source, out, runs_dir=settings.dir("runs"), models_dir=settings.dir("models"), merge=merge)
    render.console.print(f"wrote {'merged model' if merge else 'model'} to {written}")


def _export_gguf(source: str, out: Path, *, quant: str, eval_text: Optional[Path], eval_tokens: int, json_out: bool) -> None:
    from rich.table import Table

    from kubetrainer.train.export import export_gguf

    settings = STATE.settings
    report = export_gguf(source, out, runs_dir=settings.dir("runs"), models_dir=settings.dir("models"), quant=quant,
                         eval_text=eval_text, eval_tokens=eval_tokens)
    if json_out:
        render.print_json(report.to_json())
        return
    size = f"{report.size_bytes / 2**20:.1f} MiB" if report.size_bytes >= 2**20 else f"{report.size_bytes / 2**10:.0f} KiB"
    render.console.print(f"wrote {report.path} ({size}, {report.quant})")
    if report.hf is None or report.gguf is None:
        render.note("perplexity not compared" + ("" if eval_tokens == 0 else ": llama-cpp-python is not installed"))
        return
    table = Table("Model", "Perplexity", "Tokens", title=f"Perplexity on {report.eval_text}", expand=render.expand())
    table.add_row("transformers (float32)", f"{report.hf.perplexity:.4f}", str(report.hf.tokens))
    table.add_row(f"GGUF {report.quant}", f"{report.gguf.perplexity:.4f}", str(report.gguf.tokens))
    render.console.print(table)
    render.console.print(f"GGUF / transformers perplexity: {report.ratio:.4f}")
