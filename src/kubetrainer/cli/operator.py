"""`kubetrainer operator`: run the TrainingJob operator."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kubetrainer.cli import app


@app.command()
def operator(
    namespace: Annotated[list[str], typer.Option("--namespace", "-n", help="Serve only these namespaces (repeat); default: all.")] = [],  # noqa: B006
    kubeconfig: Annotated[Optional[str], typer.Option(help="kubeconfig file (default: in-cluster service account).")] = None,
) -> None:
    """Reconcile TrainingJob resources (kubetrainer.dev/v1alpha1) into placed training jobs."""
    from kubetrainer.k8s import operator as training_operator

    training_operator.run(list(namespace), kubeconfig)
