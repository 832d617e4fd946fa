"""A binary for another CPU architecture names its node's platform (the kubelet's nodeInfo, the kubernetes.io/arch
label), as `kubectl describe node` shows it."""

from __future__ import annotations

from kubetrainer.diagnose import diagnose

from .cluster import container, log, node, pod

CRASHING = [container(waiting=("CrashLoopBackOff", "back-off 5m0s"), last=("Error", 1), restarts=12)]


def test_an_exec_format_error_names_the_nodes_platform_and_quotes_its_status() -> None:
    # containerd's message when the image's entrypoint is an arm64 binary on an amd64 node
    records = [node("cpu-b-0", labels={"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}),
               pod("recs-api-8gd8nfmc4d-v2tbp", "recommendations", node="cpu-b-0", containers=CRASHING),
               log("recs-api-8gd8nfmc4d-v2tbp", "exec /app/recs-api: exec format error", "recommendations",
                   node_name="cpu-b-0")]
    (found,) = [finding for finding in diagnose(records) if "exec format error" in finding.cause]
    assert found.cause.endswith("; its node cpu-b-0 is linux/amd64: the image's binary is not built for it")
    assert found.evidence[1].name == "cpu-b-0" and "platform linux/amd64" in found.evidence[1].text


def test_a_node_without_a_known_architecture_adds_nothing() -> None:
    records = [node("cpu-b-0"), pod("recs-api-8gd8nfmc4d-v2tbp", "recommendations", node="cpu-b-0", containers=CRASHING),
               log("recs-api-8gd8nfmc4d-v2tbp", "exec /app/recs-api: exec format error", "recommendations",
                   node_name="cpu-b-0")]
    (found,) = [finding for finding in diagnose(records) if "exec format error" in finding.cause]
    assert "platform" not in found.cause and all(item.kind != "object" or item.name != "cpu-b-0" for item in found.evidence)
