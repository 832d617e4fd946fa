"""Which workload a pod belongs to, by the name its controller generated for it."""

from __future__ import annotations

import re

from kubetrainer.diagnose.rollouts import POD_OF_REPLICASET

_STATEFUL_POD = re.compile(r"^(?P<workload>.+)-\d+$")
_GENERATED_POD = re.compile(r"^(?P<workload>.+)-[a-z0-9]{5}$")


def workload_of(pod: str) -> str:
    """The workload a pod's name was generated from: `api-7d9f8c6b5d-x2lqp` -> api (Deployment), `kafka-2` ->
    kafka (StatefulSet), `backup-28391-tq7xz` -> backup-28391 (Job), else the pod's own name."""
    for pattern, group in ((POD_OF_REPLICASET, "deployment"), (_STATEFUL_POD, "workload"),
                           (_GENERATED_POD, "workload")):
        if match := pattern.match(pod):
            return match[group]
    return pod
