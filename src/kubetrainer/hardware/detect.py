"""`detect` as one call: this host, a cluster (offline file, kubeconfig, or whatever is configured), or both.

The CLI and the model planner both use `detect()`; `Detection.inventory()` folds the
host in as a node so a planner sees one list whichever way the hardware was found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubetrainer.errors import UserError
from kubetrainer.hardware.inventory import ClusterInventory, LocalMachine
from kubetrainer.hardware.live import inventory_from_api
from kubetrainer.hardware.local import detect_local
from kubetrainer.hardware.readers import inventory_from_path


@dataclass(frozen=True)
class Detection:
    """What was found; `notes` says why a configured cluster was not read (shown by --verbose)."""

    local: LocalMachine | None
    cluster: ClusterInventory | None
    notes: tuple[str, ...] = ()

    def inventory(self) -> ClusterInventory:
        """One inventory (the `detect --json` shape): the host first when probed, then the cluster's nodes."""
        cluster = self.cluster or ClusterInventory.of("", ())
        if self.local is None:
            return cluster if cluster.source else ClusterInventory.of("none", ())
        source = f"local+{cluster.source}" if cluster.source else "local"
        return cluster.with_nodes(source, (self.local.as_node(),))


def _configured_cluster() -> bool:
    """Whether this environment points at a cluster without being told (in-cluster or a kubeconfig)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return True
    kubeconfig = os.environ.get("KUBECONFIG")
    return any(Path(path).expanduser().is_file() for path in kubeconfig.split(os.pathsep)) if kubeconfig else (
        Path("~/.kube/config").expanduser().is_file()
    )


def detect(
    *, source: str | Path | None = None, kubeconfig: str | None = None, local: bool | None = None
) -> Detection:
    """Probe what was asked for.

    `source` (a dump directory or nodes file) or `kubeconfig` names a cluster, and its
    errors are the user's; with neither, a configured cluster is tried and failing to
    reach it is only a note. `local` defaults to probing this host unless a cluster
    was named explicitly.
    """
    notes: list[str] = []
    cluster: ClusterInventory | None = None
    if source is not None:
        cluster = inventory_from_path(source)
    elif kubeconfig is not None:
        cluster = inventory_from_api(kubeconfig)
    elif _configured_cluster():
        try:
            cluster = inventory_from_api(None)
        except UserError as error:  # only tried, not asked for: a note, not a failure
            notes.append(f"cluster: {error.render()}")
    else:
        notes.append("cluster: no kubeconfig or in-cluster service account; use --from or --kubeconfig")
    if local is None:
        local = source is None and kubeconfig is None
    return Detection(local=detect_local() if local else None, cluster=cluster, notes=tuple(notes))
