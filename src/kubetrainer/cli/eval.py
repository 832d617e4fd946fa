"""`kubetrainer eval`: perplexity, QA and retrieval metrics; base, base+RAG, tuned and tuned+RAG side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer import outputs
from kubetrainer.cli import app, render
from kubetrainer.cli.options import Force
from kubetrainer.cli.state import STATE


@app.command("eval")
def eval_command(
    model: Annotated[Optional[str], typer.Argument(help="Tuned model: run dir, checkpoint, ./checkpoints/latest, adapter, model dir or id.")] = None,
    answers: Annotated[Optional[Path], typer.Option(help="On-call questions JSONL (with facts and evidence): score the answers (needs --index).")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="Base model to compare with (default: the adapter's or run's base).")] = None,
    dataset: Annotated[Optional[Path], typer.Option(help="Held-out data, any training format (default: the run's held-out split).")] = None,
    index: Annotated[Optional[Path], typer.Option(help="RAG index directory: adds the +RAG variants.")] = None,
    retrieval: Annotated[Optional[Path], typer.Option(help="Retrieval questions JSONL: recall@k, MRR, nDCG (needs --index).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="New or empty report directory (default: <run>/eval/).")] = None,
    limit: Annotated[Optional[int], typer.Option(
        min=1, help="Evaluate at most this many held-out examples (and on-call questions per model).")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Answer length limit.")] = 64,
    top_k: Annotated[int, typer.Option(min=1, help="Retrieved chunks per question.")] = 4,
    window: Annotated[Optional[int], typer.Option(min=2, help="Perplexity window in tokens (default: context, at most 1024).")] = None,
    stride: Annotated[Optional[int], typer.Option(min=1, help="Perplexity stride (default: half the window).")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1... (default: cuda when available).")] = None,
    force: Force = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report JSON instead of the table.")] = False,
) -> None:
    """Evaluate a tuned model against its base, with and without RAG; writes report.json/.md/.png."""

    from kubetrainer.evaluate.answers import AnswerSettings
    from kubetrainer.evaluate.report import render_markdown
    from kubetrainer.evaluate.run import EvalSettings
    from kubetrainer.evaluate.stage import EvalRequest, run_eval

    out = outputs.claim(out, force=force) if out is not None else None
    request = EvalRequest(
        model=model, answers=answers, baseline=baseline, dataset=dataset, index=index, retrieval_questions=retrieval, out=out,
        limit=limit, device=device,
        settings=EvalSettings(window=window, stride=stride, answers=AnswerSettings(max_new_tokens=max_new_tokens, top_k=top_k)),
    )
    with render.progress() as progress:

        def track(description: str, total: int):
            task = progress.add_task(description, total=total)
            return lambda: progress.advance(task)

        report, paths = run_eval(request, STATE.settings, track)
    if json_output:
        render.print_json(report)
        return
    render.markdown(render_markdown(report))
    render.note(f"report: {paths['report.md'].parent}/ ({', '.join(paths)})")
