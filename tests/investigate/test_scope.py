"""Alert labels -> the objects they name -> the findings in scope and their neighbours (pure)."""

from __future__ import annotations

from kubetrainer.diagnose.finding import Finding
from kubetrainer.investigate.scope import resolve, scope_of, select


def finding(rule: str, kind: str, name: str, namespace: str | None = None, **extra: object) -> Finding:
    return Finding(rule=rule, severity="warning", kind=kind, namespace=namespace, name=name, cause=f"{rule} on {name}",
                   meaning="", fix="", terms=(rule,), **extra)


OOM = finding("oom-killed", "Pod", "trainer-7d9f-x2lq", "ml", node="gpu-3", container="app")
SIDECAR = finding("crash-loop", "Pod", "trainer-7d9f-x2lq", "ml", node="gpu-3", container="sidecar")
XID = finding("gpu-xid", "Node", "gpu-3", node="gpu-3", gpu="GPU 0")
DEPLOY = finding("replicas-short", "Deployment", "trainer", "ml")
JOB = finding("job-failed", "Job", "nightly-eval", "ml")
JOB_POD = finding("container-failed", "Pod", "nightly-eval-abcde", "ml")
ELSEWHERE = finding("oom-killed", "Pod", "trainer-7d9f-x2lq", "other", node="cpu-1")
PRESSURE = finding("node-pressure", "Node", "cpu-1", node="cpu-1")
ALL = [OOM, SIDECAR, XID, DEPLOY, JOB, JOB_POD, ELSEWHERE, PRESSURE]
DEPLOY.related.append(OOM.id)
OOM.related.append(DEPLOY.id)


def chosen(labels: dict[str, str]) -> tuple[list[str], list[str]]:
    named, neighbours = select(ALL, resolve(scope_of(labels), ALL))
    return [f"{f.rule}:{f.namespace}" for f in named], [f"{f.rule}:{f.namespace}" for f in neighbours]


def test_labels_become_a_scope_exported_labels_win() -> None:
    scope = scope_of({"alertname": "X", "namespace": "monitoring", "exported_namespace": "ml", "pod": "ksm-0",
                      "exported_pod": "trainer-7d9f-x2lq", "container": "app", "instance": "10.0.0.7:8080",
                      "job": "kube-state-metrics", "deployment": "trainer", "node": "gpu-3"})
    assert (scope.namespace, scope.pod, scope.container, scope.node, scope.instance) == (
        "ml", "trainer-7d9f-x2lq", "app", "gpu-3", "10.0.0.7")
    assert scope.workloads == (("Deployment", "trainer"),) and scope.job == "kube-state-metrics"
    assert scope.describe() == "pod ml/trainer-7d9f-x2lq (container app), deployment ml/trainer, node gpu-3"
    assert scope.filters() == {"namespace": "ml"}
    assert scope.context_filters() == {"namespace": "ml", "name": "trainer-7d9f-x2lq"}
    assert scope_of({"Hostname": "gpu-3", "gpu": "0"}).filters() == {"node": "gpu-3"}
    assert scope_of({"alertname": "Watchdog"}).empty


def test_a_pod_alert_takes_its_container_its_node_and_linked_findings() -> None:
    named, neighbours = chosen({"namespace": "ml", "pod": "trainer-7d9f-x2lq", "container": "app"})
    assert named == ["oom-killed:ml"]  # not the sidecar, not the same pod name in another namespace
    assert sorted(neighbours) == ["gpu-xid:None", "replicas-short:ml"]  # its node's GPU, its Deployment (linked)


def test_workload_alerts_take_their_pods_and_node_alerts_their_node() -> None:
    named, _ = chosen({"namespace": "ml", "deployment": "trainer"})
    assert sorted(named) == ["crash-loop:ml", "oom-killed:ml", "replicas-short:ml"]
    assert chosen({"Hostname": "gpu-3"})[0] == ["gpu-xid:None"]
    assert chosen({"instance": "cpu-1:9100", "job": "node-exporter"})[0] == ["node-pressure:None"]
    assert sorted(chosen({"namespace": "other"})[0]) == ["oom-killed:other"]


def test_the_job_label_is_a_kubernetes_job_only_when_one_has_that_name() -> None:
    assert sorted(chosen({"namespace": "ml", "job": "nightly-eval"})[0]) == ["container-failed:ml", "job-failed:ml"]
    scraped, _ = chosen({"namespace": "ml", "job": "kube-state-metrics"})  # the scrape job: the namespace decides
    assert len(scraped) == 5


def test_an_alert_naming_nothing_known_gets_nothing_and_one_naming_nothing_gets_everything() -> None:
    assert chosen({"namespace": "ml", "pod": "gone-0"}) == ([], [])
    assert len(chosen({"alertname": "Watchdog"})[0]) == len(ALL)
