"""The Helm chart: lint, render with several value sets, validate against the official schemas."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "kubetrainer"
KUBERNETES_VERSIONS = ["1.29.0", "1.31.0", "1.33.0", "1.35.0"]
VALUE_SETS = {
    "defaults": [],
    "gpu-server-redis-netpol": [
        "--set", "server.gpus=2",
        "--set", "redis.enabled=true",
        "--set", "networkPolicy.enabled=true",
        "--set", "networkPolicy.allowFromNamespaceLabels.team=ml",
        "--set", "agent.runtimeClassName=nvidia",
        "--set", "server.model=Qwen/Qwen2.5-7B-Instruct",
        "--set", "operator.enabled=true",
        "--set", "agent.xidFromKernelLog=true",
    ],
    "minimal": ["--set", "server.enabled=false", "--set", "server.persistence.enabled=false"],
    "vllm-server": ["--set", "server.engine=vllm", "--set", "server.gpus=1"],
    "existing-secret": ["--set", "server.apiKey.existingSecret=my-key", "--set", "server.persistence.enabled=false"],
}


def render(helm: Path, *args: str, kube_version: str | None = None) -> list[dict]:
    """`helm template` of the chart; for Kubernetes `kube_version`, else helm's own default."""
    version = ["--kube-version", kube_version] if kube_version else []
    result = subprocess.run(
        [str(helm), "template", "kt", str(CHART), "--namespace", "kubetrainer", *version, *args],
        capture_output=True, text=True, check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def test_template_needs_no_kube_version(helm: Path, tmp_path: Path) -> None:
    """Like helm's release builds, the helm built here assumes the Kubernetes its client-go is for
    (scripts/k8s/build.sh), not 1.20, so the chart's `kubeVersion: >=1.27` passes without --kube-version."""
    go_mod = (Path(__file__).resolve().parents[2] / "scripts" / "k8s" / "controlplane" / "go.mod").read_text()
    client_go = re.search(r"^\s*k8s\.io/client-go => k8s\.io/client-go v0\.(\d+)\.", go_mod, re.MULTILINE)
    probe = tmp_path / "probe"
    (probe / "templates").mkdir(parents=True)
    (probe / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (probe / "templates" / "version.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\n"
        "data: {kubeVersion: '{{ .Capabilities.KubeVersion.Version }}'}\n")
    out = subprocess.run([str(helm), "template", "p", str(probe)], capture_output=True, text=True, check=True).stdout
    (configmap,) = [doc for doc in yaml.safe_load_all(out) if doc]
    assert configmap["data"]["kubeVersion"] == f"v1.{client_go.group(1)}.0"

    kinds = {doc["kind"] for doc in render(helm)}
    assert {"DaemonSet", "Deployment", "ServiceAccount"} <= kinds


def test_helm_lint_is_clean(helm: Path) -> None:
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_official_schemas(helm: Path, values: list[str], version: str) -> None:
    docs = render(helm, *values, kube_version=version)
    assert docs
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD, not in the core schemas
            continue
        kubernetes_validate.validate(doc, version, strict=True)


def test_rbac_is_least_privilege(helm: Path) -> None:
    docs = render(helm, "--set", "operator.enabled=true")
    cluster_rules = [rule for role in by_kind(docs, "ClusterRole") for rule in role["rules"]]
    namespaced = by_kind(docs, "Role")
    assert cluster_rules and namespaced
    for rule in cluster_rules + [rule for role in namespaced for rule in role["rules"]]:
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
    # Cluster-wide, KubeTrainer only reads.
    for rule in cluster_rules:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
    # It creates and deletes Jobs only in the training namespace.
    (operator_role,) = namespaced
    assert operator_role["metadata"]["namespace"] == "kubetrainer-training"
    job_rule = next(rule for rule in operator_role["rules"] if rule["resources"] == ["jobs"])
    assert {"create", "delete"} <= set(job_rule["verbs"])


def test_agent_is_hardened_and_covers_gpu_nodes(helm: Path) -> None:
    (daemonset,) = by_kind(render(helm), "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    pods_mount = next(m for m in container["volumeMounts"] if m["name"] == "pods")
    assert pods_mount["readOnly"] is True
    assert {t["key"] for t in pod["tolerations"]} >= {"nvidia.com/gpu", "amd.com/gpu"}


def test_gpu_server_requests_gpus_and_tolerates_taint(helm: Path) -> None:
    docs = render(helm, *VALUE_SETS["gpu-server-redis-netpol"])
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "kt-kubetrainer"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert "--redis=redis://kt-kubetrainer-redis:6379/0" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert len(by_kind(docs, "NetworkPolicy")) == 1


def test_a_vllm_server_runs_on_a_gpu_with_shared_memory_and_refuses_to_render_without_one(helm: Path) -> None:
    docs = render(helm, *VALUE_SETS["vllm-server"])
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "kt-kubetrainer"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "--engine=vllm" in container["args"] and container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}} in pod["volumes"]
    assert not any("--engine" in arg for arg in by_kind(render(helm), "Deployment")[0]["spec"]["template"]["spec"]
                   ["containers"][0]["args"]), "auto passes no --engine"
    for values, message in ((["--set", "server.engine=vllm"], "vllm needs server.gpus >= 1"),
                            (["--set", "server.engine=tgi"], '"tgi" is not an engine')):
        failed = subprocess.run([str(helm), "template", "kt", str(CHART), *values], capture_output=True, text=True)
        assert failed.returncode != 0 and message in failed.stderr


def test_existing_secret_is_referenced_not_created(helm: Path) -> None:
    docs = render(helm, *VALUE_SETS["existing-secret"])
    assert not by_kind(docs, "Secret")
    (deployment,) = by_kind(docs, "Deployment")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "my-key", "items": [{"key": "api-key", "path": "api-key"}]} in [
        v.get("secret") for v in volumes
    ]


def _flags(help_text: str) -> set[str]:
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", help_text))


def test_container_args_are_flags_the_binaries_accept(helm: Path) -> None:
    """The chart and the programs must not drift: every flag the pods pass exists in their --help."""
    from kubetrainer.sources.local_agent import agent_binary

    docs = render(helm, *VALUE_SETS["gpu-server-redis-netpol"]) + render(helm, *VALUE_SETS["vllm-server"])
    agent_help = subprocess.run([str(agent_binary()), "--help"], capture_output=True, text=True, check=True).stdout
    for workload in by_kind(docs, "DaemonSet") + by_kind(docs, "Deployment"):
        container = workload["spec"]["template"]["spec"]["containers"][0]
        args = container.get("args") or []
        if container["name"] == "redis":
            continue
        if container["name"] == "agent":
            known = _flags(agent_help)
        else:
            command = [sys.executable, "-m", "kubetrainer", args[0], "--help"]
            known = _flags(subprocess.run(command, capture_output=True, text=True, check=True,
                                          env={**os.environ, "COLUMNS": "300"}).stdout)
        used = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
        assert used <= known, f"{container['name']} passes unknown flags {sorted(used - known)}"
