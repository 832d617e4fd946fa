"""`kubetrainer detect`: this machine's GPUs and a cluster's, as tables or the DESIGN.md JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from kubetrainer.cli import app, render

if TYPE_CHECKING:
    from kubetrainer.hardware.detect import Detection
    from kubetrainer.hardware.inventory import ClusterInventory, LocalMachine, NodeInventory

GIB = 2**30
MAX_NODE_ROWS = 50


@app.command()
def detect(
    source: Annotated[
        Optional[Path],
        typer.Option("--from", help="A `kubectl cluster-info dump` directory or a nodes JSON/YAML file."),
    ] = None,
    kubeconfig: Annotated[
        Optional[str], typer.Option("--kubeconfig", help="Read the live cluster through this kubeconfig.")
    ] = None,
    local: Annotated[
        Optional[bool],
        typer.Option("--local/--no-local", help="Probe this machine (default: yes unless --from/--kubeconfig)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the inventory as JSON (DESIGN.md section 5).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say why no GPU or cluster was found.")] = False,
) -> None:
    """Inventory GPUs: this machine (NVML, ROCm, torch) and a cluster's nodes, with free counts per product."""
    from kubetrainer.hardware.detect import detect as run_detect

    found = run_detect(source=source, kubeconfig=kubeconfig, local=local)
    if as_json:
        render.print_json(found.inventory().to_json())
        return
    show(found, verbose=verbose)


def show(found: Detection, *, verbose: bool) -> None:
    """The human view: this machine, then the cluster's GPU nodes and the per-product summary."""
    if found.local is not None:
        _show_local(found.local, verbose=verbose)
    if found.cluster is not None:
        _show_cluster(found.cluster, verbose=verbose)
    elif found.local is None:
        render.console.print("Nothing detected: --no-local and no cluster." + ("" if verbose else " (--verbose says why)"))
    if verbose:
        for note in found.notes:
            render.note(note)


def _value(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def _show_local(machine: LocalMachine, *, verbose: bool) -> None:
    render.console.print(
        f"[bold]This machine[/] {machine.hostname}: {machine.cpu_model}, {machine.cpu_cores} cores / "
        f"{machine.cpu_threads} threads, {machine.ram_bytes / GIB:.1f} GiB RAM"
    )
    if not machine.gpus:
        render.console.print("No GPU found." + ("" if verbose else " (--verbose says why)"))
        if verbose:
            for reason in machine.no_gpu_reasons:
                render.console.print(f"  - {reason}", highlight=False)
        return
    table = Table("#", "GPU", "Memory used/total", "Compute", "Driver", "Runtime", "MIG", "Util", "Temp", "Power")
    for gpu in machine.gpus:
        used = "?" if gpu.memory_used_mib is None else f"{gpu.memory_used_mib / 1024:.1f}"
        power = "-" if gpu.power_w is None else f"{gpu.power_w:.0f} W" + (
            f" / {gpu.power_limit_w:.0f} W" if gpu.power_limit_w else "")
        table.add_row(
            str(gpu.index), gpu.name, f"{used}/{gpu.memory_total_mib / 1024:.1f} GiB", _value(gpu.compute_capability),
            _value(gpu.driver_version), f"{gpu.runtime or '-'} {gpu.runtime_version or ''}".strip(),
            {True: "on", False: "off", None: "-"}[gpu.mig_enabled], _value(gpu.utilization_pct, "%"),
            _value(gpu.temperature_c, " C"), power,
        )
    render.console.print(table)


def _show_cluster(inventory: ClusterInventory, *, verbose: bool) -> None:
    gpu_nodes = [node for node in inventory.nodes if node.gpus is not None]
    cpu_only = len(inventory.nodes) - len(gpu_nodes)
    if len(gpu_nodes) <= MAX_NODE_ROWS or verbose:
        _show_nodes(inventory.source, gpu_nodes)
        render.console.print(f"{len(gpu_nodes)} GPU nodes, {cpu_only} CPU-only nodes.")
    else:  # thousands of rows hide the answer; the summary is what people read
        render.console.print(f"Cluster ({inventory.source}): {len(gpu_nodes)} GPU nodes, {cpu_only} CPU-only nodes "
                             "(--verbose lists every GPU node, --json has them all).")
    summary = Table("Vendor", "Product", "Memory", "Nodes", "Capacity", "Allocatable", "Allocated", "Free",
                    title="Per product (free counts schedulable nodes only)")
    for row in inventory.summary:
        summary.add_row(row.vendor, row.product, _value(row.memory_mib and f"{row.memory_mib / 1024:.0f} GiB"),
                        *(str(value) for value in (row.nodes, row.capacity, row.allocatable, row.allocated, row.free)))
    render.console.print(summary)


def _show_nodes(source: str, gpu_nodes: list[NodeInventory]) -> None:
    table = Table("Node", "Ready", "Schedulable", "Product", "Memory", "GPUs used/alloc", "Free", "MIG / sharing",
                  "Taints", title=f"Cluster ({source})")
    for node in gpu_nodes:
        gpus = node.gpus
        mig = gpus.mig or {}
        extras = [f"{profile} x{device['allocatable']}" for profile, device in mig.get("devices", {}).items()]
        if mig and not extras:
            extras.append(f"MIG {mig.get('strategy')}")
        if gpus.sharing:
            extras.append(f"{gpus.sharing['strategy']} x{gpus.sharing['replicas']}")
        table.add_row(
            node.name, "yes" if node.ready else "[red]no[/]", "yes" if node.schedulable else "[yellow]no[/]",
            gpus.product, _value(gpus.memory_mib and f"{gpus.memory_mib / 1024:.0f} GiB"),
            f"{gpus.allocated}/{gpus.count}", str(gpus.free), ", ".join(extras) or "-",
            ", ".join(map(str, node.taints)) or "-",
        )
    render.console.print(table)
