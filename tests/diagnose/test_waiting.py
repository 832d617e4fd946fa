"""Why work waits: a GPU pod whose node selector no longer matches, a node the cloud cannot launch, a workload
Kueue does not admit. Each from the message format the real component prints."""

from __future__ import annotations

from kubetrainer.diagnose import diagnose
from kubetrainer.diagnose.finding import Finding
from kubetrainer.diagnose.pods import AWAITS_NODE
from kubetrainer.sources.render import render_pod

from .cluster import container, event, log, node, pod

SHARED_L4 = {"nvidia.com/gpu.product": "NVIDIA-L4-SHARED", "nvidia.com/gpu.sharing-strategy": "time-slicing",
             "nvidia.com/gpu.replicas": "4", "nvidia.com/gpu.count": "4"}
A100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.sharing-strategy": "none"}
MISMATCH = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.")


def _pending(selector: dict | None, *others: dict) -> Finding:
    records = [node("gpu-l4-0", gpus=(16, 16), labels=SHARED_L4), node("gpu-a100-0", gpus=(8, 8), labels=A100),
               node("cpu-0"), pod("eval-29558100-4qrnz", "eval", node=None, phase="Pending", gpus=1, selector=selector),
               event("Pod", "eval-29558100-4qrnz", "eval", "FailedScheduling", MISMATCH), *others]
    (finding,) = [f for f in diagnose(records) if f.rule == "unschedulable"]
    return finding


def test_a_gpu_node_states_how_its_gpus_are_shared_and_the_product_label_sharing_renamed():
    status = node("gpu-l4-0", gpus=(16, 16), labels=SHARED_L4)["message"]  # the rendered record every stage reads
    assert "shared by time-slicing, 4 replicas per GPU" in status
    assert "product label nvidia.com/gpu.product=NVIDIA-L4-SHARED" in status


def test_a_pod_selecting_the_product_by_its_old_name_is_told_sharing_renamed_it():
    finding = _pending({"nvidia.com/gpu.product": "NVIDIA-L4"})
    assert ("it selects nvidia.com/gpu.product=NVIDIA-L4, but GPU sharing renamed that label to "
            "nvidia.com/gpu.product=NVIDIA-L4-SHARED on node(s) gpu-l4-0") in finding.cause
    assert any("product label nvidia.com/gpu.product=NVIDIA-L4-SHARED" in item.text for item in finding.evidence)


def test_a_pods_record_states_the_node_labels_it_selects():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p5", "p4d"]},
                              {"key": "spot", "operator": "DoesNotExist"}]}]}}}
    record = pod("eval-1", "eval", node=None, phase="Pending", selector={"nvidia.com/gpu.product": "NVIDIA-L4"})
    assert "; node selector nvidia.com/gpu.product=NVIDIA-L4" in record["message"]
    spec = {"containers": [{"name": "app", "image": "app:1"}], "affinity": affinity}
    text = render_pod({"metadata": {"name": "train-0", "namespace": "ml"}, "spec": spec, "status": {"phase": "Pending"}})
    assert "node selector karpenter.k8s.aws/instance-family in (p5, p4d)" in text and "spot" not in text


def test_a_pod_selecting_another_product_or_with_no_run_on_the_renamed_nodes_is_not_told_about_them():
    assert "SHARED" not in _pending({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}).cause
    assert "SHARED" not in _pending(None).cause  # what it selects is unknown, and its image never ran there


def test_an_unrecorded_selector_is_inferred_from_where_its_image_ran_before():
    earlier = pod("eval-29556660-6cz6k", "eval", node="gpu-l4-0", phase="Succeeded", gpus=1,
                  containers=[container(terminated=("Completed", 0))])
    finding = _pending(None, earlier)
    assert ("GPU sharing renamed nvidia.com/gpu.product to NVIDIA-L4-SHARED on node(s) gpu-l4-0, so a node selector "
            "on nvidia.com/gpu.product=NVIDIA-L4 no longer matches them") in finding.cause


# Karpenter's lifecycle controller, as it logs a launch the cloud refused (AWS EC2 Fleet's error).
REFUSED = ('{"level":"ERROR","time":"2026-03-14T10:55:05.135Z","logger":"controller","caller":"lifecycle/'
           'controller.go:209","message":"failed launching nodeclaim","controller":"nodeclaim.lifecycle",'
           '"NodeClaim":{"name":"gpu-p5-gtbl9"},"error":"creating instance, insufficient capacity, with fleet '
           'error(s), InsufficientInstanceCapacity: We currently do not have sufficient p5.48xlarge capacity in the '
           'Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional '
           'capacity. You can currently get p5.48xlarge capacity by not specifying an Availability Zone in your '
           'request or choosing us-east-1b, us-east-1c."}')


def test_a_pod_waiting_for_a_node_the_cloud_cannot_launch_is_linked_to_the_autoscalers_failure():
    found = diagnose([
        node("cpu-0"), pod("karpenter-6f9c-x2lqp", "karpenter"),
        *[log("karpenter-6f9c-x2lqp", REFUSED, "karpenter", "controller") for _ in range(3)],
        pod("whisper-distill-x2dvb", "audio", node=None, phase="Pending", gpus=8),
        event("Pod", "whisper-distill-x2dvb", "audio", "FailedScheduling", MISMATCH),
        event("Pod", "whisper-distill-x2dvb", "audio", "Nominated", "Pod should schedule on: nodeclaim/gpu-p5-jm8vd",
              warning=False),
    ])
    (capacity,) = [f for f in found if f.rule == "cloud-capacity"]
    assert "no capacity for the instance type" in capacity.cause
    assert "p5.48xlarge" in capacity.cause and "us-east-1b, us-east-1c" in capacity.cause
    (pending,) = [f for f in found if f.rule == "unschedulable"]
    assert f"{AWAITS_NODE} (Nominated: Pod should schedule on: nodeclaim/gpu-p5-jm8vd)" in pending.cause
    assert capacity.id in pending.related


def test_a_pod_no_autoscaler_announced_a_node_for_is_not_linked_to_a_capacity_failure():
    found = diagnose([node("cpu-0"), pod("karpenter-6f9c-x2lqp", "karpenter"),
                      log("karpenter-6f9c-x2lqp", REFUSED, "karpenter", "controller"),
                      pod("batch-1", "audio", node=None, phase="Pending"),
                      event("Pod", "batch-1", "audio", "FailedScheduling", MISMATCH)])
    (pending,) = [f for f in found if f.rule == "unschedulable"]
    assert AWAITS_NODE not in pending.cause and not any(
        f.id in pending.related for f in found if f.rule == "cloud-capacity")


def test_a_workload_kueue_does_not_admit_is_a_finding_though_its_event_is_normal():
    message = ("couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor "
               "h100-80gb, 8 more needed")
    found = diagnose([event("Workload", "job-vit-h14-pretrain-8c733", "vision", "Pending", message, warning=False,
                            count=60),
                      event("Workload", "job-small-1", "vision", "QuotaReserved", "Quota reserved in ClusterQueue "
                            "vision-cq, wait time since queued was 1s", warning=False)])
    (finding,) = found
    assert finding.rule == "kueue-not-admitted" and finding.kind == "Workload"
    assert "Kueue has not admitted the workload" in finding.cause
    assert "insufficient unused quota for nvidia.com/gpu in flavor h100-80gb, 8 more needed" in finding.cause
