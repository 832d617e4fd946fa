"""The training run, as one readable function from config to checkpoint (torchtune-recipe style).

`run(config)` loads data and model, packs micro-batches, and steps the optimizer; every
optimizer step consumes `grad_accum * world_size` micro-batches of a plan fixed by
(seed, epoch), rank r taking every world_size-th, and the loss is summed per token and
divided by the whole step's target count. So 1 process with grad_accum 2 and 2 processes
with grad_accum 1 take identical steps, and a resumed run replays the same data.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kubetrainer.config import Settings, default_settings
from kubetrainer.errors import UserError
from kubetrainer.train import checkpoint, distributed, paths, runs, zero
from kubetrainer.train.checkpoint import Progress
from kubetrainer.train.config import TrainConfig
from kubetrainer.train.distill import Teacher, check_teacher
from kubetrainer.train.formats import load_dataset, load_splits
from kubetrainer.train.model_setup import compute_dtype, load_model_and_tokenizer
from kubetrainer.train.packing import PackedBatch, collate, head_on_targets, plan_batches, token_loss_sum
from kubetrainer.train.tokenize import TokenizedExample, tokenize_all

Notify = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    output_dir: Path | None
    steps: int
    dataset_format: str
    train_examples: int
    eval_examples: int
    first_loss: float | None
    last_loss: float | None
    first_eval_loss: float | None
    last_eval_loss: float | None
    tokens_per_second: float
    stopped_early: bool

    def to_json(self) -> dict:
        return {key: (str(value) if isinstance(value, Path) else value) for key, value in self.__dict__.items()}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def split_eval(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    """A seeded held-out slice when the data names no eval split (at least one example each side)."""
    if fraction == 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    count = min(max(1, round(len(examples) * fraction)), len(examples) - 1)
    held = set(order[:count])
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def _read_data(config: TrainConfig) -> tuple[str, list, list]:
    """(format, train, eval) examples; read before the model loads, so a bad dataset fails in a second."""
    format_name, train, evaluation = load_splits(config.dataset)
    if config.eval_dataset is not None:
        evaluation = load_dataset(config.eval_dataset)[1]
    elif not evaluation:
        train, evaluation = split_eval(train, config.eval_fraction, config.seed)
    return format_name, train, evaluation


def _tokenize(config: TrainConfig, tokenizer, examples: list) -> list[TokenizedExample]:
    return tokenize_all(tokenizer, examples, max_seq_len=config.max_seq_len, train_on_prompt=config.train_on_prompt)


def _forward_loss(model, examples, batch: PackedBatch, ctx, autocast, teacher: Teacher | None = None) -> torch.Tensor:
    """The micro-batch's loss summed over its target tokens: cross-entropy, mixed with the teacher's KL when distilling."""
    tensors = {name: value.to(ctx.device) for name, value in collate(examples, batch).items()}
    with autocast(), head_on_targets(model, tensors["labels"]) as target_ids:
        logits = model(input_ids=tensors["input_ids"], position_ids=tensors["position_ids"], use_cache=False).logits
    if teacher is None:
        return token_loss_sum(logits, target_ids)
    return teacher.loss_sum(logits, target_ids, tensors, autocast)


def evaluate(model, examples: list[TokenizedExample], config: TrainConfig, ctx, autocast) -> float | None:
    """Mean eval loss per target token over all ranks; dropout off and no RNG drawn."""
    if not examples:
        return None
    plan = plan_batches(examples, batch_tokens=config.batch_tokens, row_tokens=config.max_seq_len, seed=config.seed, epoch=0)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in plan[ctx.rank :: ctx.world_size]:
            total += float(_forward_loss(model, examples, batch, ctx, autocast))
    model.train()
    targets = sum(batch.target_tokens for batch in plan)
    return distributed.all_reduce_sum(total, ctx) / targets


def _resolve_run_dir(config: TrainConfig, runs_dir: Path, resume: bool) -> Path:
    if config.run_id:
        run_dir = runs_dir / config.run_id
        if resume and not (run_dir / runs.CONFIG).is_file():
            raise UserError(f"no run named {config.run_id!r} to resume", where="--run-id",
                            expected="a run id from `kubetrainer runs list` (or leave out --resume to start it)")
        return run_dir
    if resume:
        latest = paths.latest_run(runs_dir)
        if latest is None:
            raise UserError("--resume found no earlier run", where=runs_dir, expected="a run started by `kubetrainer train`")
        return latest
    return runs_dir / runs.new_run_id(config, runs_dir)


def prepare_run(config: TrainConfig, settings: Settings, *, resume: bool) -> tuple[TrainConfig, Path, bool]:
    """The run directory, the config it runs with (a resumed run keeps its own config.json), and whether it is new.

    `latest` does not move here: only a saved checkpoint or a finished run moves it, so a run
    that fails early never hides the last good one.
    """
    run_dir = _resolve_run_dir(config, settings.dir("runs"), resume)
    if resume and (run_dir / runs.CONFIG).is_file():
        return runs.read_config(run_dir), run_dir, False
    config = config.model_copy(update={"run_id": run_dir.name})
    fresh = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_config(run_dir, config)
    return config, run_dir, fresh


def run(
    config: TrainConfig,
    settings: Settings | None = None,
    *,
    resume: bool = False,
    notify: Notify | None = None,
    on_step: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Train per `config` under <home>/runs/<run-id>/; Ctrl-C saves a checkpoint before stopping."""
    settings = settings or default_settings()
    ctx = distributed.setup()
    say = notify if (notify and ctx.is_main) else (lambda message: None)
    config, run_dir, fresh = prepare_run(config, settings, resume=resume)
    with runs.lifecycle(run_dir, fresh=fresh, is_main=ctx.is_main):
        return _train(config, settings, run_dir, ctx, say, resume=resume, on_step=on_step)


def _train(config: TrainConfig, settings: Settings, run_dir: Path, ctx, say: Notify, *, resume: bool,
           on_step: Callable[[Progress], None] | None) -> RunResult:
    seed_everything(config.seed)
    if config.deepspeed:
        zero.require()
    format_name, train, evaluation = _read_data(config)
    teacher_dir = None if config.teacher is None else check_teacher(config.teacher, config.model, settings.dir("models"))
    model, tokenizer, base_dir = load_model_and_tokenizer(config, settings.dir("models"), ctx.device)
    teacher = None if teacher_dir is None else Teacher.load(
        teacher_dir, len(tokenizer), ctx.device, temperature=config.distill_temperature, weight=config.distill_weight)
    train, evaluation = _tokenize(config, tokenizer, train), _tokenize(config, tokenizer, evaluation)
    say(f"dataset {config.dataset}: {format_name} format, {len(train)} train / {len(evaluation)} eval examples")
    say(f"model {base_dir} ({config.method}), run {run_dir}")
    if teacher is not None:
        say(f"distilling from {config.teacher} (temperature {config.distill_temperature}, KL weight {config.distill_weight})")

    wrapped = model if config.deepspeed else distributed.wrap(model, ctx, fsdp=config.fsdp)
    optimizer = torch.optim.AdamW(
        [p for p in wrapped.parameters() if p.requires_grad], lr=config.learning_rate, weight_decay=config.weight_decay
    )
    micro_per_step = config.grad_accum * ctx.world_size
    steps_per_epoch = len(plan_batches(train, batch_tokens=config.batch_tokens, row_tokens=config.max_seq_len, seed=config.seed, epoch=0)) // micro_per_step
    if steps_per_epoch == 0:
        raise UserError(
            f"{len(train)} examples make fewer micro-batches than one optimizer step needs ({micro_per_step})",
            where=config.dataset,
            expected="more data, or a smaller --batch-tokens / --grad-accum / --nproc",
        )
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    from transformers import get_scheduler

    scheduler = get_scheduler(config.schedule, optimizer, num_warmup_steps=config.warmup_steps if config.warmup_steps is not None else total_steps // 10, num_training_steps=total_steps)
    dtype = compute_dtype(config.precision, ctx.device)
    if config.deepspeed:  # DeepSpeed casts the model and scales the loss itself: no autocast, no GradScaler
        wrapped = zero.initialize(model, optimizer, scheduler, config, dtype)
    progress = Progress()
    history: list[dict] = []
    last_checkpoint = paths.latest_checkpoint(run_dir) if resume else None
    if last_checkpoint is not None:
        progress = checkpoint.load(last_checkpoint, model=wrapped, optimizer=optimizer, scheduler=scheduler)
        history = runs.truncate_metrics(run_dir, runs.read_metrics(run_dir), progress.step) if ctx.is_main else []
        say(f"resumed from {last_checkpoint.name} (step {progress.step})")

    autocast = (lambda: torch.autocast(ctx.device.type, dtype=dtype)) if dtype != torch.float32 and not config.deepspeed else contextlib.nullcontext
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=dtype == torch.float16 and not config.deepspeed)

    def save() -> None:
        checkpoint.save(
            run_dir, model=wrapped, unwrapped=model, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler,
            progress=progress, is_main=ctx.is_main, keep=config.keep_checkpoints,
        )
        if ctx.is_main:
            paths.mark_latest(run_dir.parent, run_dir)

    plans: dict[int, list[PackedBatch]] = {}
    started, tokens_this_session, stopped_early, saved_step = time.perf_counter(), 0, False, progress.step
    wrapped.train()
    if progress.step == 0:
        baseline = {"step": 0, "eval_loss": evaluate(wrapped, evaluation, config, ctx, autocast)}
        if ctx.is_main:
            runs.append_metrics(run_dir, baseline, history)
    bar = _progress_bar(total_steps, progress.step, enabled=ctx.is_main)
    try:
        while progress.step < total_steps and not stopped_early:
            plan = plans.setdefault(progress.epoch, plan_batches(train, batch_tokens=config.batch_tokens, row_tokens=config.max_seq_len, seed=config.seed, epoch=progress.epoch))
            window = plan[progress.batch_in_epoch : progress.batch_in_epoch + micro_per_step]
            if len(window) < micro_per_step:
                progress.epoch, progress.batch_in_epoch = progress.epoch + 1, 0
                continue
            step_targets = sum(batch.target_tokens for batch in window)
            loss_sum = 0.0
            for batch in window[ctx.rank :: ctx.world_size]:
                loss = _forward_loss(wrapped, train, batch, ctx, autocast, teacher)
                normalised = loss * ctx.world_size / step_targets
                if config.deepspeed:
                    zero.backward(wrapped, normalised)
                else:
                    scaler.scale(normalised).backward()
                loss_sum += float(loss.detach())
                tokens_this_session += sum(len(train[i].input_ids) for i in batch.example_indices)
            if not config.deepspeed:
                _optimizer_step(wrapped, optimizer, scheduler, scaler, config.max_grad_norm)
            progress.step += 1
            progress.batch_in_epoch += micro_per_step
            elapsed = time.perf_counter() - started
            row = {
                "step": progress.step, "epoch": progress.epoch, "loss": distributed.all_reduce_sum(loss_sum, ctx) / step_targets,
                "lr": scheduler.get_last_lr()[0], "tokens_per_second": distributed.all_reduce_sum(tokens_this_session, ctx) / elapsed,
            }
            if progress.step % config.eval_every == 0 or progress.step == total_steps:
                row["eval_loss"] = evaluate(wrapped, evaluation, config, ctx, autocast)
                stopped_early = _early_stop(progress, row["eval_loss"], config.early_stopping_patience)
            if ctx.is_main:
                runs.append_metrics(run_dir, row, history)
            bar(row)
            if progress.step % config.save_every == 0:
                save()
                saved_step = progress.step
            if on_step:
                on_step(progress)
    except KeyboardInterrupt:
        if progress.step > saved_step:
            save()
            say(f"interrupted: saved checkpoint step-{progress.step:06d}; continue with --resume")
        raise
    finally:
        bar(None)
        if ctx.is_main and history:
            runs.plot_loss(run_dir, history)

    output_dir = _save_final(run_dir, wrapped, model, tokenizer, ctx)
    distributed.teardown()
    return _result(run_dir, output_dir, progress, format_name, train, evaluation, history, stopped_early)


def _optimizer_step(model, optimizer, scheduler, scaler, max_grad_norm: float) -> None:
    """Clip, step, schedule and clear: what DeepSpeed's engine.step() does on its own."""
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def _early_stop(progress: Progress, eval_loss: float | None, patience: int | None) -> bool:
    """Track the best eval loss; True once `patience` evals in a row failed to improve it."""
    if eval_loss is None:
        return False
    if progress.best_eval_loss is None or eval_loss < progress.best_eval_loss:
        progress.best_eval_loss, progress.evals_without_improvement = eval_loss, 0
        return False
    progress.evals_without_improvement += 1
    return patience is not None and progress.evals_without_improvement >= patience


def _save_final(run_dir: Path, wrapped, model, tokenizer, ctx) -> Path:
    weights = checkpoint.trainable_weights(wrapped)
    final = run_dir / "final"
    if ctx.is_main:
        from kubetrainer import atomic

        with atomic.directory(final) as staging:
            checkpoint.save_model(model, tokenizer, staging, weights)
        paths.mark_latest(run_dir.parent, run_dir)
    return final


def _progress_bar(total: int, done: int, *, enabled: bool):
    """A rich progress bar on stderr (rank 0 only); call with a metrics row, then None to close."""
    if not enabled:
        return lambda row: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
    task = bar.add_task("", total=total, completed=done)
    bar.start()

    def update(row: dict | None) -> None:
        if row is None:
            bar.stop()
            return
        bar.update(task, completed=row["step"], description=f"loss {row['loss']:.3f}")

    return update


def _result(run_dir, output_dir, progress, format_name, train, evaluation, history, stopped_early) -> RunResult:
    losses = [row["loss"] for row in history if "loss" in row]
    evals = [row["eval_loss"] for row in history if row.get("eval_loss") is not None]
    speeds = [row["tokens_per_second"] for row in history if "tokens_per_second" in row]
    return RunResult(
        run_dir=run_dir, output_dir=output_dir, steps=progress.step, dataset_format=format_name,
        train_examples=len(train), eval_examples=len(evaluation),
        first_loss=losses[0] if losses else None, last_loss=losses[-1] if losses else None,
        first_eval_loss=evals[0] if evals else None, last_eval_loss=evals[-1] if evals else None,
        tokens_per_second=speeds[-1] if speeds else 0.0, stopped_early=stopped_early,
    )
