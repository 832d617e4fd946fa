"""`kubetrainer runs list|rm`: the training runs under <home>/runs/, and cleaning them up."""

from __future__ import annotations

from typing import Annotated

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE

runs_app = typer.Typer(help="List and remove training runs under <home>/runs/.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False) -> None:
    """Every run: id, state (running, finished, interrupted, failed, stopped), steps, start time; * marks latest."""
    from rich.table import Table

    from kubetrainer.train.runs import list_runs

    found = list_runs(STATE.settings.dir("runs"))
    if as_json:
        render.print_json([info.to_json() for info in found])
        return
    if not found:
        render.note("no training runs yet (`kubetrainer train --dataset PATH` starts one)")
        return
    table = Table("run", "state", "steps", "started (UTC)", "output", box=None)
    for info in found:
        table.add_row(("* " if info.latest else "  ") + info.run_id, info.state, str(info.steps),
                      info.started.replace("T", " ").removesuffix("+00:00"), info.output.name if info.output else "-")
    render.console.print(table)


@runs_app.command("rm")
def rm_command(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids from `kubetrainer runs list`.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Also remove the latest or a running run (latest then moves).")] = False,
) -> None:
    """Remove runs; the latest one only with --force, and `latest` then names the newest run left with an output."""
    from kubetrainer.train.runs import remove_run

    runs_dir = STATE.settings.dir("runs")
    for run_id in run_ids:
        latest = remove_run(runs_dir, run_id, force=force)
        render.console.print(f"removed {run_id}" + (f"; latest is {latest.name}" if latest else "; no run is latest now"))
