"""Files a failing container names, in what the other containers of its pod logged about their directory.

A container that cannot find `/models/reranker/4/model.onnx` was given its files by someone: the init
container that synced the model repository (`cp gs://models/reranker/4/model.onnx_data
/models/reranker/4/model.onnx_data`), the sidecar that renders its config. An engineer reads `kubectl logs -c`
of those next. The directory a failure's evidence names is looked up in the opening lines the collector
kept of the pod's other containers; the newest line of each that names it is quoted with the failure
(`Finding.elsewhere`), as what that container logged, never as the cause.
"""

from __future__ import annotations

import re

from kubetrainer.diagnose.collect import Collector
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.knowledge import INFO

# An absolute path of at least three parts (`/models/reranker/4/model.onnx`), not part of a URL.
PATH = re.compile(r"(?<![\w:/.-])(?:/[\w.@+-]+){3,}")
TRACED_LINES = 3  # the finding's first evidence lines whose paths are looked up
MAX_LINES = 2


def directories(text: str) -> list[str]:
    """The directories of the paths `text` names (`/models/reranker/4/`), in order, once each."""
    return list(dict.fromkeys(path.rsplit("/", 1)[0] + "/" for path in PATH.findall(text)))


def trace_paths(findings: list[Finding], collector: Collector) -> None:
    """Add to each failing container's finding the newest line each other container of its pod logged that names a
    directory its evidence names."""
    for finding in findings:
        if finding.kind != "Pod" or finding.container is None or finding.severity == INFO:
            continue
        wanted = [found for item in finding.evidence[:TRACED_LINES] for found in directories(item.text)]
        if not wanted:
            continue
        quoted = {item.text for item in finding.lines}
        found = []
        for (namespace, pod, container), lines in sorted(collector.opening.items()):
            if (namespace, pod) != (finding.namespace, finding.name) or container == finding.container:
                continue
            naming = [item for item in lines if any(path in item.text for path in wanted) and item.text not in quoted]
            found += naming[-1:]
        finding.elsewhere += found[:MAX_LINES]
