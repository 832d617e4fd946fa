"""`kubetrainer submit train` and `kubetrainer jobs list|status|logs|cancel`: parse, call k8s, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.table import Table

from kubetrainer.cli import app, render

submit_app = typer.Typer(help="Submit work to a Kubernetes cluster.", no_args_is_help=True)
jobs_app = typer.Typer(help="Follow training jobs submitted with `kubetrainer submit`.", no_args_is_help=True)
app.add_typer(submit_app, name="submit")
app.add_typer(jobs_app, name="jobs")

Kubeconfig = Annotated[Optional[str], typer.Option(help="kubeconfig file (default: in-cluster, $KUBECONFIG, ~/.kube/config).")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the training jobs.")]


@submit_app.command("train")
def submit_train(
    dataset: Annotated[str, typer.Option(help="Training data path as the pods see it (image or --data-pvc).")],
    name: Annotated[str, typer.Option(help="Job name (a DNS label).")] = "kubetrainer-train",
    method: Annotated[str, typer.Option(help="lora | qlora | full")] = "lora",
    model: Annotated[Optional[str], typer.Option(help="Catalog/Hub id or path; default the bundled SmolLM2.")] = None,
    gpus: Annotated[int, typer.Option(help="GPUs per node.")] = 1,
    nodes: Annotated[int, typer.Option(help="Nodes (torchrun c10d rendezvous across them).")] = 1,
    fsdp: Annotated[bool, typer.Option("--fsdp", help="Shard the model state (FULL_SHARD) across all GPUs.")] = False,
    backend: Annotated[str, typer.Option(help="auto | trainjob | pytorchjob | job")] = "auto",
    image: Annotated[Optional[str], typer.Option(help="Trainer image.")] = None,
    data_pvc: Annotated[Optional[str], typer.Option(help="PVC mounted at /data as the data home.")] = None,
    shm_size: Annotated[str, typer.Option(help="/dev/shm size for data loaders.")] = "16Gi",
    namespace: Namespace = "default",
    kubeconfig: Kubeconfig = None,
    from_path: Annotated[Optional[Path], typer.Option("--from", help="Plan against a cluster-info dump or nodes JSON (implies --dry-run).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be applied; create nothing.")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="table | yaml | json")] = "table",
) -> None:
    """Place a distributed training job on free GPUs that fit the model, and submit it."""
    from kubetrainer.k8s import cluster_state, submit
    from kubetrainer.k8s.client import Cluster

    request = submit.TrainRequest(
        name=name, dataset=dataset, method=method, model=model, gpus=gpus, nodes=nodes, namespace=namespace,
        image=image or submit.DEFAULT_IMAGE, backend=backend, data_pvc=data_pvc, shm_size=shm_size, fsdp=fsdp,
    )
    cluster = None if from_path else Cluster.open(kubeconfig)
    state = cluster_state.from_path(from_path) if from_path else cluster_state.from_cluster(cluster)
    plan = submit.plan(request, state.inventory, state.node_labels, state.served_backends)
    if output == "yaml":
        typer.echo(yaml.safe_dump_all(plan.objects, sort_keys=False), nl=False)
    elif output == "json":
        render.print_json(plan.to_json())
    else:
        placement = plan.placement
        render.console.print(
            f"[bold]{request.name}[/]: {request.nodes} x {request.gpus} {placement.product} "
            f"({plan.bytes_per_gpu / 2**30:.1f} GiB per GPU needed) via {plan.backend} on {', '.join(placement.nodes)}"
        )
    if dry_run or cluster is None:
        return
    for created in submit.submit(cluster, plan.objects):
        render.note(f"created {created}")


@jobs_app.command("list")
def jobs_list(namespace: Namespace = "default", kubeconfig: Kubeconfig = None,
              json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Training jobs in a namespace, with their phase."""
    from kubetrainer.k8s import jobs
    from kubetrainer.k8s.client import Cluster

    found = jobs.list_jobs(Cluster.open(kubeconfig), namespace)
    if json_out:
        render.print_json([job.to_json() for job in found])
        return
    table = Table("name", "backend", "phase", "created", "message")
    for job in found:
        table.add_row(job.name, job.backend, job.phase, job.created or "", job.message)
    render.console.print(table)


@jobs_app.command("status")
def jobs_status(name: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None) -> None:
    """One job's phase as JSON."""
    from kubetrainer.k8s import jobs
    from kubetrainer.k8s.client import Cluster

    render.print_json(jobs.job_status(Cluster.open(kubeconfig), namespace, name).to_json())


@jobs_app.command("logs")
def jobs_logs(name: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None,
              tail: Annotated[Optional[int], typer.Option(min=0, help="Last N lines per pod.")] = None) -> None:
    """Every pod's log of a job."""
    from kubetrainer.k8s import jobs
    from kubetrainer.k8s.client import Cluster

    for pod, text in jobs.logs(Cluster.open(kubeconfig), namespace, name, tail).items():
        render.rule(pod)
        render.console.print(text, highlight=False, markup=False)


@jobs_app.command("cancel")
def jobs_cancel(name: str, namespace: Namespace = "default", kubeconfig: Kubeconfig = None) -> None:
    """Delete a job; its pods go with it."""
    from kubetrainer.k8s import jobs
    from kubetrainer.k8s.client import Cluster

    for deleted in jobs.cancel(Cluster.open(kubeconfig), namespace, name) or ["nothing: already gone"]:
        render.note(f"deleted {deleted}")
