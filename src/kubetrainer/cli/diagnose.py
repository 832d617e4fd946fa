"""`kubetrainer diagnose`: what is broken in the cluster, why, and the lines that prove it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


@app.command()
def diagnose(
    source: Annotated[Path | None, typer.Option(
        "--from", help="A cluster-info dump directory, records JSONL or /var/log/pods tree (default: the live cluster).")] = None,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Kubeconfig of the live cluster.")] = None,
    namespace: Annotated[list[str] | None, typer.Option("--namespace", "-n", help="Only these namespaces.")] = None,
    node: Annotated[list[str] | None, typer.Option("--node", help="Only these nodes.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Only these kinds (Pod, Node, pvc, ...).")] = None,
    severity: Annotated[str, typer.Option("--severity", help="Lowest severity shown: critical | warning | info.")] = "info",
    explain: Annotated[bool, typer.Option("--explain", help="Have the model phrase each finding (kept only if grounded).")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Model for --explain (default: the bundled SmolLM2).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {findings, records, skipped} JSON.")] = False,
) -> None:
    """Find what is broken (pods, nodes, GPUs, storage, workloads, logs) with cause, evidence and fix."""
    from kubetrainer.diagnose.stage import read, select

    diagnosis = read(source, kubeconfig)
    findings = select(diagnosis.findings, namespaces=namespace or (), nodes=node or (), kinds=kind or (), severity=severity)
    explanations: dict[str, str] = {}
    if explain and findings:
        from kubetrainer.answer.explain import explain_findings
        from kubetrainer.answer.phrase import load_phraser

        explanations = explain_findings(findings, load_phraser(model, STATE.settings.dir("models")))
    if as_json:
        render.print_json({"records": diagnosis.records, "skipped": diagnosis.problems,
                           "findings": [{**f.to_json(), "explanation": explanations.get(f.id)} for f in findings]})
        return
    for problem in diagnosis.problems:
        render.note(f"skipped: {problem}")
    if not findings:
        render.console.print(f"No problems found in {diagnosis.records} records.")
        return
    _table(findings, explanations)


def _table(findings, explanations: dict[str, str]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True, expand=render.expand())
    for column, ratio in (("#", None), ("severity", None), ("object", 2), ("cause and evidence", 6)):
        table.add_column(column, ratio=ratio, overflow="fold")
    for number, finding in enumerate(findings, start=1):
        body = Text(finding.cause)
        for item in finding.evidence[:2]:
            body.append(f'\n  "{item.text[:300]}"')
        for item in finding.changes:
            about = f" ({item.about})" if item.about else ""
            body.append(f'\n  changed before: {item.ts or ""} {item.name}: "{item.text[:200]}"{about}', style="cyan")
        for item in finding.startup:
            body.append(f'\n  at start, {item.name}: "{item.text[:200]}"', style="green")
        for item in finding.succeeded:
            body.append(f'\n  last done, {item.ts or ""}: "{item.text[:200]}"', style="green")
        for item in finding.settings:
            body.append(f'\n  configured: "{item.text[:200]}"', style="blue")
        for item in finding.elsewhere:
            body.append(f'\n  the same id in {item.name}: "{item.text[:200]}"', style="magenta")
        body.append(f"\nfix: {finding.fix}", style="dim")
        if finding.id in explanations:
            body.append(f"\n{explanations[finding.id]}", style="italic")
        where = finding.subject
        table.add_row(str(number), Text(finding.severity, style=SEVERITY_STYLE.get(finding.severity, "")), Text(where), body)
    render.console.print(table)
    render.console.print(f"{len(findings)} findings")
