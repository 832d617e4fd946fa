"""`kubetrainer harvest` (sources -> redacted records JSONL) and `kubetrainer samples` (sample data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubetrainer import outputs
from kubetrainer.cli import app, render
from kubetrainer.cli.options import Force
from kubetrainer.cli.state import STATE

samples_app = typer.Typer(help="Generate sample data: a realistic cluster-info dump with incidents and questions.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")


@app.command()
def harvest(
    dump: Annotated[Path | None, typer.Option("--from", help="A `kubectl cluster-info dump --output-directory` directory.")] = None,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Read the live cluster with this kubeconfig ('' = in-cluster or ~/.kube/config).")] = None,
    pods_dir: Annotated[Path | None, typer.Option("--pods-dir", help="A /var/log/pods tree (CRI log files).")] = None,
    files: Annotated[list[Path] | None, typer.Option(
        "--files", help="Manifests, runbooks, text logs or records JSONL: --files A B C (or repeated).")] = None,
    more_files: Annotated[list[Path] | None, typer.Argument(
        help="More paths for --files: `--files A B` reads both (an option takes one value; the rest arrive here).",
        metavar="PATH", show_default=False)] = None,
    local: Annotated[bool, typer.Option("--local", help="Also run the Rust agent once on this machine.")] = False,
    name: Annotated[str, typer.Option("--name", help="Output name: <home>/harvest/NAME.jsonl.")] = "harvest",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read cluster data into redacted schema-v1 records under <home>/harvest/."""
    from kubetrainer.errors import UserError
    from kubetrainer.sources.base import Problems
    from kubetrainer.sources.files import read_files
    from kubetrainer.sources.harvest import harvest as run_harvest

    problems = Problems()
    streams = []
    if dump is not None:
        from kubetrainer.sources.dump import read_dump

        streams.append(read_dump(dump, problems))
    if kubeconfig is not None:
        from kubetrainer.sources.api import read_api

        streams.append(read_api(kubeconfig or None, problems))
    if pods_dir is not None:
        from kubetrainer.sources.cri import read_pods_dir

        streams.append(read_pods_dir(pods_dir, problems))
    if more_files and not files:
        raise UserError("paths given without --files", where=" ".join(map(str, more_files)), expected="--files PATH...")
    if files:
        streams.append(read_files([*files, *(more_files or [])], problems))
    if local:
        from kubetrainer.sources.local_agent import local_records

        # The agent over /var/log/pods (telemetry alone when this is not a node); before it is built, the Python reader.
        records, note = local_records(STATE.settings.dir("cache") / "agent", problems)
        streams.append(records)
        if note:
            render.note(note)
    if not streams:
        raise UserError("nothing to harvest", where="kubetrainer harvest", expected="--from DUMP_DIR, --kubeconfig PATH, --pods-dir DIR, --files PATH or --local")
    out = STATE.settings.dir("harvest") / f"{name}.jsonl"
    with render.progress() as progress:
        task = progress.add_task("harvesting records", total=None)
        result = run_harvest(streams, out, progress=lambda n: progress.advance(task, n))
    summary = {**result.to_json(), "skipped": problems.items}
    if as_json:
        render.print_json(summary)
        return
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.by_kind.items()))
    render.console.print(f"wrote {result.records} records ({kinds}) to {out}; {result.redactions} secrets redacted")
    for problem in problems.items:
        render.note(f"skipped: {problem}")


@samples_app.command("cluster")
def samples_cluster(
    out: Annotated[Path, typer.Option("--out", help="New or empty directory to write the dump into (atomically).")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same cluster.")] = 0,
    size: Annotated[str, typer.Option("--size", help="small | default | huge (1M log lines) | a number of log lines.")] = "default",
    scenario: Annotated[str, typer.Option("--scenario", help="default | heldout | fresh | blind | sealed | unseen | reserve | drill | vigil | ember | tundra | quarry | cobalt | lumen | harbor (all but default: other incidents, kept for honest evaluation).")] = "default",
    force: Force = False,
) -> None:
    """Write a realistic cluster-info dump with incidents, plus OUT/questions.jsonl."""
    from kubetrainer.errors import UserError
    from kubetrainer.samples.cluster import SCENARIOS, generate_cluster, resolve_size

    try:
        chosen = resolve_size(size)
    except ValueError as error:
        raise UserError(str(error), where="--size") from None
    if scenario not in SCENARIOS:
        raise UserError(f"unknown sample scenario {scenario!r}", where="--scenario", expected=" | ".join(SCENARIOS))
    out = outputs.claim(out, force=force)
    with render.progress() as progress:
        task = progress.add_task("writing sample logs", total=chosen.log_lines)
        cluster = generate_cluster(out, seed=seed, size=chosen, progress=lambda n: progress.advance(task, n), scenario=scenario)
    counts = f"{len(cluster.nodes)} nodes, {len(cluster.pods)} pods, {len(cluster.events)} events"
    render.console.print(f"wrote the {scenario} sample cluster ({counts}) to {out}")
    render.console.print(f"questions for retrieval evaluation: {out / 'questions.jsonl'}")
