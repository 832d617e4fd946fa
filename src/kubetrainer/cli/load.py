"""`kubetrainer load`: choose the most capable model that fits, explain why, and fetch it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE

if TYPE_CHECKING:
    from kubetrainer.models.catalog import ModelSpec
    from kubetrainer.models.plan import Acquired
    from kubetrainer.models.select import Selection

GIB = 2**30


@app.command()
def load(
    task: Annotated[str, typer.Option("--task", help="inference | lora | qlora | full")] = "inference",
    model: Annotated[
        Optional[str], typer.Option("--model", help="Force this model (catalog name, Hub id or directory).")
    ] = None,
    gpu_memory: Annotated[
        Optional[str], typer.Option("--gpu-memory", help="Plan for GPUs of this size (24GiB, 80GB) instead of detecting.")
    ] = None,
    gpus: Annotated[Optional[int], typer.Option("--gpus", help="With --gpu-memory: GPUs on the node (1).")] = None,
    source: Annotated[
        Optional[Path], typer.Option("--from", help="Plan for a cluster-info dump directory or nodes JSON file.")
    ] = None,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", help="Plan for the live cluster.")] = None,
    quant: Annotated[Optional[str], typer.Option("--quant", help="Inference weights: int8 | int4.")] = None,
    seq_len: Annotated[
        Optional[int], typer.Option("--seq-len", help="Tokens per sequence (default 4096 inference, 2048 training).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per device.")] = 1,
    token: Annotated[
        Optional[str], typer.Option("--token", help="Hub token for gated models (default $HF_TOKEN).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only plan: choose and explain, download nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (DESIGN.md section 5).")] = False,
) -> None:
    """Pick the most capable model that fits the detected (or given) hardware and cache it under <home>/models."""
    from kubetrainer.models import hub
    from kubetrainer.models.plan import acquire, distillation_teacher, find_budgets, plan, quantized_alternative

    budgets = find_budgets(gpu_memory=gpu_memory, gpus=gpus, source=source, kubeconfig=kubeconfig)
    selection = plan(
        task, budgets, model=model, token=token, seq_len=seq_len, batch_size=batch_size, quantization=quant
    )
    alternative = None if model else quantized_alternative(
        selection, budgets, allow_gated=hub.token_from_env(token) is not None, seq_len=seq_len, batch_size=batch_size,
        quantization=quant)
    distilled = None if model else distill_json(selection, distillation_teacher(selection))
    if not as_json:
        show(selection)
        if alternative:
            show_alternative(alternative)
        if distilled:
            render.console.print(f"[bold]Distilled[/] {distilled['teacher']} ({distilled['teacher_params'] / 1e9:.1f}B) does not "
                                 f"fit here; its distributions can be trained into the chosen model where it does fit: "
                                 f"`{distilled['command']}`")
    acquired = None if dry_run else acquire(selection, STATE.settings.dir("models"), forced=model is not None, token=token)
    if as_json:
        render.print_json({**selection.to_json(), "quantized_alternative": alternative_json(alternative),
                           "distillation": distilled, "acquired": acquired.to_json() if acquired else None})
    elif acquired is not None:
        show_acquired(acquired)


def show(selection: Selection) -> None:
    """The candidates table and the choice, biggest model first."""
    budget = selection.budget
    render.console.print(f"[bold]Hardware[/] {budget.label}: {budget.usable_bytes / GIB:.1f} GiB usable per device")
    if budget.note:
        render.note(budget.note)
    workload = selection.workload
    chosen = selection.chosen
    seq = chosen.estimate.seq_len if chosen else workload.seq_len
    render.console.print(
        f"[bold]Task[/] {selection.task}, {seq or 'default'} tokens x {workload.batch_size}, "
        f"{'fp32' if workload.param_bytes == 4 else 'bf16'}{' ' + workload.quantization if workload.quantization else ''}"
    )
    state_header = "KV" if selection.task == "inference" else "Grad+Opt"  # the rest of the model state
    table = Table(caption="sizes in GiB; Peak: on each of the n devices it would use")
    table.add_column("Model", no_wrap=True, min_width=13)
    for header in ("Params", "Ctx", "Weights", state_header, "Activ", "Peak", "n", "Fits"):
        table.add_column(header, justify="right")
    for candidate in selection.candidates:
        est = candidate.estimate
        state = est.kv_cache_bytes + est.gradients_bytes + est.optimizer_bytes
        fits = "[green]yes[/]" if candidate.fits else ("[yellow]gated[/]" if "gated" in candidate.reason else "[red]no[/]")
        name = f"[bold]{candidate.spec.name}[/]" if candidate is chosen else candidate.spec.name
        table.add_row(
            name,
            f"{candidate.spec.params / 1e9:.1f}B",
            f"{candidate.spec.context_length // 1024}K",
            f"{est.weights_bytes / GIB:.1f}",
            f"{state / GIB:.1f}",
            f"{est.activations_bytes / GIB:.1f}",
            f"{candidate.per_device_bytes / GIB:.1f}",
            str(candidate.devices),
            fits,
        )
    render.console.print(table)
    if chosen and chosen.fits:
        render.console.print(f"[bold]Chosen[/] {chosen.spec.hub_id} ({chosen.reason})")
    elif chosen:
        render.console.print(f"[bold]{chosen.spec.hub_id} does not fit[/]: {chosen.reason}")
    else:
        render.console.print("[bold]Nothing fits[/]: the bundled default is used when loading.")


def alternative_json(alternative: Selection | None) -> dict | None:
    """The quantized plan's model, quantization, size and the GGUF export that serves it on llama.cpp."""
    if alternative is None or alternative.chosen is None:
        return None
    from kubetrainer.models.plan import GGUF_QUANT

    chosen, quantization = alternative.chosen, alternative.workload.quantization or ""
    return {"name": chosen.spec.name, "id": chosen.spec.hub_id, "params": chosen.spec.params,
            "quantization": quantization, "total_bytes": chosen.estimate.total_bytes,
            "gguf": f"kubetrainer export {chosen.spec.hub_id} --gguf --quant {GGUF_QUANT[quantization]} --out DIR"}


def distill_json(selection: Selection, teacher: ModelSpec | None) -> dict | None:
    """The teacher to distil into the chosen model, and the command that does it."""
    if teacher is None or selection.chosen is None:
        return None
    student = selection.chosen.spec.hub_id
    return {"teacher": teacher.hub_id, "teacher_params": teacher.params, "student": student,
            "command": f"kubetrainer distill --teacher {teacher.hub_id} --student {student} --dataset DATA"}


def show_alternative(alternative: Selection) -> None:
    """One line: the more capable model quantized weights make fit, and how to get it for llama.cpp."""
    found = alternative_json(alternative)
    if found:
        render.console.print(f"[bold]Quantized[/] with {found['quantization']} weights {found['id']} ({found['params'] / 1e9:.1f}B, "
                    f"{found['total_bytes'] / GIB:.1f} GiB) fits: `kubetrainer load --quant {found['quantization']}`; "
                    f"for llama.cpp on an edge GPU: `{found['gguf']}`")


def show_acquired(acquired: Acquired) -> None:
    if acquired.fallback_reason:
        render.note(f"{acquired.fallback_reason}; using the bundled default {acquired.model_id}")
    render.console.print(f"[bold]Model ready[/] {acquired.model_id} at {acquired.path}")
