"""A pod out of GPU memory names its node's GPU and where its healthy replicas run (NVIDIA's GPU feature labels)."""

from __future__ import annotations

from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.finding import Finding

from .cluster import container, log, node, pod

OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 160.00 MiB. GPU 0 has a total capacity of "
       "22.05 GiB of which 109.06 MiB is free.")
L4, A100 = ("NVIDIA-L4", "23034"), ("NVIDIA-A100-SXM4-80GB", "81920")


def failing_replica(failing_gpu: tuple[str, str], serving_gpu: tuple[str, str]) -> Finding:
    """Two replicas of one Deployment: the first out of GPU memory on node `failing`, the second serving on `serving`."""
    nodes = [node(name, gpus=(1, 1), labels={"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": product,
                                             "nvidia.com/gpu.memory": memory})
             for name, (product, memory) in (("failing", failing_gpu), ("serving", serving_gpu))]
    crashing = [container(waiting=("CrashLoopBackOff", "back-off 5m0s"), last=("Error", 1), restarts=10)]
    found = diagnose([*nodes, pod("llm-7d9f8c6b5d-a1b2c", "ml", node="failing", containers=crashing, gpus=1),
                      log("llm-7d9f8c6b5d-a1b2c", OOM, "ml", node_name="failing"),
                      pod("llm-7d9f8c6b5d-d3e4f", "ml", node="serving", containers=[container(ready=True)], gpus=1)])
    return next(f for f in found if f.name == "llm-7d9f8c6b5d-a1b2c" and f.severity == "critical")


def test_a_replica_out_of_gpu_memory_names_its_smaller_gpu_and_the_bigger_one_its_sibling_serves_on():
    finding = failing_replica(L4, A100)
    assert "its node failing has GPU NVIDIA L4 24GB" in finding.cause
    assert "its other replicas run on serving (GPU NVIDIA A100 80GB)" in finding.cause
    assert finding.evidence[1].text.startswith("Node failing:"), "where it ran is quoted right after the error"
    assert any(item.text.startswith("Node serving:") for item in finding.evidence)


def test_replicas_on_the_same_gpu_are_not_offered_as_where_it_fits():
    finding = failing_replica(L4, L4)
    assert "its node failing has GPU" in finding.cause and "other replicas" not in finding.cause
