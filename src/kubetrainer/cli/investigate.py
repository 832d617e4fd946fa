"""`kubetrainer investigate`: the firing alerts of an Alertmanager (or the alerts in a file), investigated over an index."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.query import IndexOption, open_retriever
from kubetrainer.cli.state import STATE


@app.command()
def investigate(
    alertmanager_url: Annotated[Optional[str], typer.Option(
        "--alertmanager-url", help="Alertmanager base URL: investigate its active alerts (v2 API).")] = None,
    label: Annotated[Optional[list[str]], typer.Option(
        "--label", help="Only alerts with this label, NAME=VALUE (repeatable; with --alertmanager-url).")] = None,
    alert: Annotated[Optional[Path], typer.Option(
        "--alert", help="A JSON file: one alert, a webhook payload or a /api/v2/alerts list.")] = None,
    index: IndexOption = None,
    phrase: Annotated[bool, typer.Option("--phrase", help="Let the model phrase each summary (kept only if grounded).")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="Model for --phrase (default: the bundled SmolLM2).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the investigations as a JSON list.")] = False,
) -> None:
    """Investigate alerts: the findings on the objects they name, a cited summary, and the events before them."""
    from kubetrainer.answer.stage import open_engine
    from kubetrainer.errors import UserError
    from kubetrainer.investigate.fetch import fetch_alerts, read_alerts
    from kubetrainer.investigate.investigation import investigate as run

    if (alertmanager_url is None) == (alert is None):
        raise UserError("say where the alerts come from", where="--alertmanager-url/--alert",
                        expected="exactly one of --alertmanager-url URL or --alert FILE.json")
    if label and alert is not None:
        raise UserError("--label filters Alertmanager's alerts", where="--label", expected="--alertmanager-url with it")
    alerts = read_alerts(alert) if alert is not None else fetch_alerts(alertmanager_url, label or ())
    engine = open_engine(open_retriever(index), model=model, phrase=phrase, models_dir=STATE.settings.dir("models"))
    now = datetime.now(UTC)
    found = [run(item, engine.retriever, engine.findings, now, phraser=engine.phraser) for item in alerts]
    if as_json:
        render.print_json([item.to_json() for item in found])
        return
    if not found:
        render.console.print("No active alerts.")
        return
    _table(found)


def _table(found) -> None:
    from rich.table import Table
    from rich.text import Text

    from kubetrainer.rag.prompt import describe_source

    table = Table(show_lines=True, expand=render.expand())
    table.add_column("alert", min_width=max(len(item.alert) for item in found))  # alert names are searched for: whole
    table.add_column("objects", ratio=2, overflow="fold")
    table.add_column("summary and sources", ratio=7, overflow="fold")
    for item in found:
        body = Text(item.summary)
        for hit in item.citations:
            body.append(f"\n[{hit['number']}] {describe_source(hit['source'])}", style="dim")
        table.add_row(Text(f"{item.alert}\n{item.status}"), Text(item.objects()), body)
    render.console.print(table)
    render.note(f"{len(found)} alert(s) investigated")
