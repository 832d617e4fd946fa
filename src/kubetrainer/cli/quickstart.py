"""`kubetrainer quickstart`: the whole workflow on the embedded default; each step's command is printed."""

from __future__ import annotations

from typing import Annotated

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE


@app.command()
def quickstart(
    tiny: Annotated[bool, typer.Option("--tiny", help="A minimal budget (seconds, for tests).")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Forget finished steps and run everything again.")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="End by serving the tuned model with the index.")] = False,
) -> None:
    """Detect, load, harvest, index and ask, fine-tune, evaluate: the seed's workflow, offline."""
    from kubetrainer.cli import main
    from kubetrainer.quickstart import plan, questions, runner, summary

    home = STATE.settings.home
    layout = plan.Layout(home)
    budget = plan.Budget.tiny() if tiny else plan.Budget()
    asked = questions.quickstart_questions(budget.questions)
    state = runner.State(layout.state) if fresh else runner.State.load(layout.state)
    summaries = {
        "detect": summary.detect, "load": summary.load, "harvest": summary.harvest,
        "rag": lambda outputs: summary.rag(outputs, asked), "answers": summary.answers,
        "train": summary.train, "eval": lambda outputs: summary.evaluate(outputs, layout.run_dir / "eval"),
    }
    upstream_changed = False
    for number, step in enumerate(plan.steps(layout, budget, [q["question"] for q in asked]), 1):
        render.rule(f"[bold]{number}. {step.title}")
        if upstream_changed:
            state.steps.pop(step.key, None)
        outcome = runner.run_step(step, layout, state, main,
                                  before_command=lambda command: render.note(f"$ {command.shell(home)}"))
        upstream_changed |= not outcome.cached
        timing = "cached" if outcome.cached else f"{outcome.seconds:.0f}s"
        render.console.print("\n".join(summaries[step.key](outcome.outputs)), highlight=False, markup=False, soft_wrap=True)
        render.note(f"({timing}; re-run alone: {step.commands[-1].shell(home)})")
    render.rule(f"[bold]{number + 1}. Next")
    render.console.print(_next_steps(layout), highlight=False, markup=False, soft_wrap=True)
    if serve:
        main(["--home", str(home), "serve", "--adapter", str(layout.adapter), "--rag", str(layout.index_dir)])


def _next_steps(layout) -> str:
    return "\n".join([
        f"serve it:      kubetrainer --home {layout.home} serve --adapter {layout.adapter} --rag {layout.index_dir}",
        "dashboard:     open http://127.0.0.1:8000/dashboard while it serves",
        "your cluster:  kubetrainer detect --kubeconfig ~/.kube/config   (or --from a `kubectl cluster-info dump` directory)",
        "               kubetrainer harvest --kubeconfig ~/.kube/config && kubetrainer index --source <home>/harvest/harvest.jsonl",
        "install:       helm install kubetrainer ./helm/kubetrainer -n kubetrainer --create-namespace",
    ])
