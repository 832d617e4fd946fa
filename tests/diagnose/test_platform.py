"""A binary for another CPU architecture names its node's platform (the kubelet's nodeInfo, the kubernetes.io/arch
label), as `kubectl describe node` shows it."""

from __future__ import annotations

from kubetrainer.diagnose import diagnose

from .cluster import container, event, log, node, pod

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


WINDOWS_2022 = {"operatingSystem": "windows", "architecture": "amd64", "osImage": "Windows Server 2022 Datacenter",
                "kernelVersion": "10.0.20348.2340"}


def test_an_image_without_a_build_for_the_nodes_platform_names_the_nodes_os_and_quotes_its_status() -> None:
    # containerd on a Windows Server 2022 node pulling an image built on the ltsc2019 base only
    image = "registry.example.com/edi/bridge:5.4.2-ltsc2019"
    pulling = [container(waiting=("ImagePullBackOff", f'Back-off pulling image "{image}"'))]
    records = [node("win-0", info=WINDOWS_2022),
               pod("bridge-6d9f8c7b5d-x2lqp", "edi", node="win-0", containers=pulling),
               event("Pod", "bridge-6d9f8c7b5d-x2lqp", "edi", "Failed",
                     f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack '
                     f'image "{image}": no match for platform in manifest: not found')]
    (found,) = [finding for finding in diagnose(records) if finding.rule == "image-pull"]
    assert "the image holds no build for the node's platform" in found.cause
    assert "does not exist" not in found.cause, "the image exists, for other platforms"
    assert found.cause.endswith("; its node win-0 is windows/amd64 (Windows Server 2022 Datacenter, kernel "
                                "10.0.20348.2340): the image has no build for it")
    assert "Windows Server build" in found.meaning and found.evidence[1].name == "win-0"
