"""`kubetrainer dashboard`: the GPU node health page on its own, without loading a model.

`kubetrainer serve` shows the same page at /dashboard; this command is for looking at
a cluster dump and harvested telemetry (or the built-in demo data) quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kubetrainer.cli import app, render
from kubetrainer.cli.state import STATE


@app.command()
def dashboard(
    inventory: Annotated[
        Optional[Path], typer.Option("--from", help="Cluster-info dump directory or nodes JSON (the GPU inventory).")
    ] = None,
    records: Annotated[
        Optional[Path], typer.Option("--records", help="Directory of records JSONL with GPU telemetry (default: <home>/harvest).")
    ] = None,
    kubeconfig: Annotated[
        Optional[str], typer.Option("--kubeconfig", help="Read the inventory from this cluster's API (live).")
    ] = None,
    api: Annotated[bool, typer.Option("--api", help="Read the inventory from the live API (default kubeconfig or in-cluster).")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Show generated sample nodes and telemetry (with incidents).")] = False,
    window_hours: Annotated[float, typer.Option("--window", min=0.01, help="Hours of telemetry to show.")] = 6.0,
    host: Annotated[str, typer.Option(help="Interface to bind; beyond loopback needs --api-key-file.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8090,
    api_key_file: Annotated[
        Optional[Path], typer.Option("--api-key-file", help="Bearer tokens, one per line; the page asks for one.")
    ] = None,
) -> None:
    """Serve the GPU node health dashboard at http://HOST:PORT/dashboard."""
    import uvicorn

    from kubetrainer.errors import UserError
    from kubetrainer.serve.config import read_api_keys, require_keys_beyond_loopback
    from kubetrainer.serve.dashboard import DashboardSource, standalone_app

    keys = read_api_keys(api_key_file) if api_key_file else frozenset()
    require_keys_beyond_loopback(host, keys)
    settings = STATE.settings
    use_api = api or kubeconfig is not None
    if inventory and use_api:
        raise UserError("two inventory sources", where="--from", expected="either --from PATH or --api/--kubeconfig")
    if demo:
        if inventory or records or use_api:
            raise UserError("--demo shows generated data", where="--demo", expected="no --from, --records or --api with it")
        from kubetrainer.serve.dashboard_sample import write_demo

        inventory, records = write_demo(settings.dir("cache") / "dashboard-demo")
    for option, path in (("--from", inventory), ("--records", records)):
        if path is not None and not path.exists():
            raise UserError("no such file or directory", where=f"{option} {path}")
    source = DashboardSource(
        records_dir=records or settings.dir("harvest"), inventory_path=inventory, use_api=use_api, kubeconfig=kubeconfig,
        window_s=window_hours * 3600,
    )
    render.note(f"GPU dashboard: http://{host}:{port}/dashboard (Ctrl-C stops)")
    uvicorn.run(standalone_app(source, keys), host=host, port=port, log_level="warning")
