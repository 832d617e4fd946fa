"""The lumen sample scenario: a fourteenth set of incidents, objects and questions, scoreable and selectable by name.

Like the scenario itself, these tests use nothing from the diagnosis, answering,
retrieval or evaluation code (not even through other test modules): a fact is stated
when one of its `|` alternatives is a case-insensitive substring (the rule `Question`
documents). Checks against the other scenarios only ever report a category, never the
other scenario's content, since some of those are held out.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from kubetrainer.samples import lumen
from kubetrainer.samples.cluster import build_cluster

# before the import below: the shared checks' asserts then report their operands, as they did when inline here
pytest.register_assert_rewrite("tests.samples.scenario_checks")

from .scenario_checks import (  # noqa: E402
    all_pods,
    check_cli_scenario,
    check_does_not_reuse,
    check_every_namespace_belongs_to_a_workload,
    check_evidence_and_facts_are_in_the_dump,
    check_logs_contain,
    check_same_seed_same_bytes,
    check_same_seed_same_questions_in_memory,
    check_secrets_are_planted,
    check_ten_incidents_two_questions_each_with_two_facts,
    env_of,
    events,
    generate_dump,
    items,
    logs_of,
    nodes_of,
    pods_named,
    scheduler_total,
    status_of,
)

BEFORE = ("default", "heldout", "fresh", "blind", "sealed", "unseen", "reserve", "drill", "vigil", "ember", "tundra",
          "quarry", "cobalt")


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dump(tmp_path_factory, "lumen")


def test_same_seed_same_bytes_and_scenarios_differ(dump: Path, tmp_path: Path) -> None:
    check_same_seed_same_bytes(dump, tmp_path, "lumen", BEFORE)


def test_ten_incidents_two_questions_each_with_two_facts(dump: Path) -> None:
    check_ten_incidents_two_questions_each_with_two_facts(dump)


def test_every_evidence_phrase_and_fact_is_in_the_dump_for_its_objects(dump: Path) -> None:
    check_evidence_and_facts_are_in_the_dump(dump)


def test_the_same_seed_gives_the_same_questions_in_memory() -> None:
    check_same_seed_same_questions_in_memory("lumen")


@pytest.mark.parametrize("other", BEFORE)
def test_lumen_does_not_reuse_the_other_scenarios(dump: Path, other: str) -> None:
    if other == "cobalt" and importlib.util.find_spec("kubetrainer.samples.cobalt") is None:
        pytest.skip("the cobalt scenario is not in this tree yet")
    check_does_not_reuse(dump, "lumen", lumen, other)


def test_every_namespace_in_the_dump_belongs_to_a_workload(dump: Path) -> None:
    check_every_namespace_belongs_to_a_workload(dump, lumen)


def _owner(pod: dict) -> tuple[str, str]:
    reference = pod["metadata"]["ownerReferences"][0]
    return reference["kind"], reference["name"]


def _waiting(pod: dict, container: str) -> str | None:
    return status_of(pod, container)["state"].get("waiting", {}).get("reason")


def test_nodes_and_placement(dump: Path) -> None:
    nodes = nodes_of(dump)
    everywhere = all_pods(dump)
    for name in lumen.L4_NODES:  # time-sliced: four replicas per L4, and GFD's -SHARED product
        labels = nodes[name]["metadata"]["labels"]
        assert labels["nvidia.com/gpu.product"] == "NVIDIA-L4-SHARED"
        assert labels["nvidia.com/gpu.sharing-strategy"] == "time-slicing" and labels["nvidia.com/gpu.replicas"] == "4"
        assert nodes[name]["status"]["allocatable"]["nvidia.com/gpu"] == "16"
    assert not [n for n in nodes.values() if n["metadata"]["labels"].get("nvidia.com/gpu.product") == "NVIDIA-L4"]
    for name in lumen.NEW_DATA_NODES + lumen.OLD_DATA_NODES:
        address = nodes[name]["status"]["addresses"][0]["address"]
        assert address.startswith("10.42.8." if name in lumen.NEW_DATA_NODES else "10.40.12.")
        others = {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in everywhere
                  if p["spec"].get("nodeName") == name and _owner(p)[0] != "DaemonSet"}
        assert others <= {"dataset-tokenizer", "crawl-dedup"}
    for name in lumen.NEW_DATA_NODES:  # joined last night: nothing there started before
        joined = nodes[name]["metadata"]["creationTimestamp"]
        assert all(p["status"]["startTime"] >= joined for p in everywhere if p["spec"].get("nodeName") == name)
    policies = {name: nodes[name]["metadata"]["annotations"]["lumen-ai.example/kubelet-config"]
                for name in lumen.H200_NODES}
    assert "topologyManagerPolicy=single-numa-node" in policies["h200-n02"]
    assert "topologyManagerPolicy=best-effort" in policies["h200-n01"]
    for name in lumen.HGX_NODES + lumen.TRAIN_NODES + (lumen.MI300X_NODE,):  # whole nodes for the big jobs
        kinds = {_owner(p)[0] for p in everywhere if p["spec"].get("nodeName") == name}
        assert kinds <= {"DaemonSet", "Job"}


def test_kueue_karpenter_and_timeslicing_incidents(dump: Path) -> None:
    # 1. Kueue: the suspended Job has no pods; its Workload reports the flavor assignment failure.
    assert not pods_named(dump, "vision-research", "vit-h14-pretrain")
    (pending,) = events(dump, "vision-research", "Pending")
    assert pending["involvedObject"]["kind"] == "Workload"
    assert pending["involvedObject"]["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    assert pending["message"].startswith("couldn't assign flavors to pod set main: insufficient unused quota")
    (created,) = events(dump, "vision-research", "CreatedWorkload")
    assert created["involvedObject"] == {"kind": "Job", "name": "vit-h14-pretrain", "apiVersion": "batch/v1",
                                         "namespace": "vision-research"}
    mixtral = pods_named(dump, "nlp-research", "mixtral-sft-0314-")
    assert sorted(p["spec"]["nodeName"] for p in mixtral) == list(lumen.HGX_NODES[:2])
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "8" for p in mixtral)

    # 2. Karpenter: the pod is unbound, the scheduler's counts add up, every NodeClaim launch fails.
    (whisper,) = pods_named(dump, "audio-models", "whisper-distill-v3-")
    assert whisper["status"]["phase"] == "Pending" and "nodeName" not in whisper["spec"]
    (failed,) = events(dump, "audio-models", "FailedScheduling")
    total, counted = scheduler_total(failed["message"])
    assert total == counted == len(nodes_of(dump))
    (nominated,) = events(dump, "audio-models", "Nominated")
    assert nominated["source"]["component"] == "karpenter" and nominated["count"] > 5
    (controller,) = items(dump, "karpenter", "pods")
    text = logs_of(dump, "karpenter", controller["metadata"]["name"])
    assert text.count('"message":"failed launching nodeclaim"') == nominated["count"]
    assert text.count('"message":"created nodeclaim"') == text.count('"message":"deleted nodeclaim"')

    # 3. Time-slicing: only the L4 nodes' device plugins run the shared config; the eval pod matches no node.
    for pod in items(dump, "kube-system", "pods"):
        if pod["metadata"]["name"].startswith("nvidia-device-plugin-daemonset-"):
            plugin = logs_of(dump, "kube-system", pod["metadata"]["name"])
            assert ('"replicas": 4' in plugin) == (pod["spec"]["nodeName"] in lumen.L4_NODES)
    evals = pods_named(dump, "eval-harness", "llm-eval-nightly-")
    waiting = [p for p in evals if p["status"]["phase"] == "Pending"]
    assert len(evals) == 2 and len(waiting) == 1 and "nodeName" not in waiting[0]["spec"]
    assert [p["status"]["phase"] for p in evals if p not in waiting] == ["Succeeded"]
    (unmatched,) = events(dump, "eval-harness", "FailedScheduling")
    assert unmatched["type"] == "Warning" and unmatched["source"]["component"] == "default-scheduler"
    assert scheduler_total(unmatched["message"])[1] == len(nodes_of(dump))
    assert "node(s) didn't match Pod's node affinity/selector" in unmatched["message"]


def test_nfs_gated_model_and_checkpoint_incidents(dump: Path) -> None:
    # 4. NFS: the two new replicas wait for their volume on the new nodes; the first two run on the old ones.
    tokenizers = pods_named(dump, "data-curation", "dataset-tokenizer-")
    assert len(tokenizers) == 4 and len({_owner(p) for p in tokenizers}) == 1
    stuck = [p for p in tokenizers if _waiting(p, "app") == "ContainerCreating"]
    assert sorted(p["spec"]["nodeName"] for p in stuck) == list(lumen.NEW_DATA_NODES)
    assert sorted(p["spec"]["nodeName"] for p in tokenizers if p not in stuck) == list(lumen.OLD_DATA_NODES)
    assert all(p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "datasets-nfs-ro" for p in tokenizers)
    mounts = events(dump, "data-curation", "FailedMount")
    assert len(mounts) == 4 and all(e["type"] == "Warning" and e["source"]["component"] == "kubelet" for e in mounts)
    assert {e["involvedObject"]["name"] for e in mounts} == {p["metadata"]["name"] for p in stuck}
    assert sum("exit status 32" in e["message"] for e in mounts) == 2

    # 5. vLLM: the new ReplicaSet's pod crash-loops with exit code 1; only the old pods have the token.
    chats = pods_named(dump, "genai-serving", "chat-llm-vllm-")
    crashing = [p for p in chats if _waiting(p, "vllm") == "CrashLoopBackOff"]
    assert len(chats) == 3 and len(crashing) == 1 and len({_owner(p) for p in chats}) == 2
    assert status_of(crashing[0], "vllm")["lastState"]["terminated"]["exitCode"] == 1
    for pod in chats:
        assert ("HF_TOKEN" in env_of(pod)) == (pod not in crashing)
        assert ("GatedRepoError" in logs_of(dump, "genai-serving", pod["metadata"]["name"])) == (pod in crashing)
    (backoff,) = events(dump, "genai-serving", "BackOff")
    assert backoff["involvedObject"]["name"] == crashing[0]["metadata"]["name"] and backoff["type"] == "Warning"

    # 6. Checkpoints: rank 0 uploaded up to global_step18000 at 08:41, every later upload hits the bucket quota.
    rank0 = pods_named(dump, "foundation-train", "lumen-13b-pretrain-0-")[0]
    assert status_of(rank0, "trainer")["ready"] and rank0["status"]["phase"] == "Running"
    text = logs_of(dump, "foundation-train", rank0["metadata"]["name"])
    uploaded = re.findall(r"^(\S+ \S+) INFO lumen.ckpt: uploaded global_step(\d+) ", text, re.M)
    refused = re.findall(r"ERROR lumen.ckpt: upload of global_step(\d+) failed", text)
    assert uploaded[-1][0].startswith("2026-03-14 08:41:") and uploaded[-1][1] == "18000"
    assert refused == ["19000", "20000", "21000"]
    assert text.count("Bucket quota exceeded") == len(refused)


def test_rocm_gguf_topology_and_ingress_incidents(dump: Path) -> None:
    # 7. ROCm: two attempts of today's Job failed with exit code 1; yesterday's, as root, succeeded.
    today = pods_named(dump, "rocm-lab", "mi300x-llama-lora-0314-")
    assert len(today) == 2 and all(p["status"]["phase"] == "Failed" for p in today)
    assert all(status_of(p, "trainer")["state"]["terminated"]["exitCode"] == 1 for p in today)
    (limit,) = events(dump, "rocm-lab", "BackoffLimitExceeded")
    assert limit["involvedObject"]["name"] == "mi300x-llama-lora-0314" and limit["type"] == "Warning"
    (yesterday,) = pods_named(dump, "rocm-lab", "mi300x-llama-lora-0313-")
    assert yesterday["status"]["phase"] == "Succeeded"
    assert yesterday["spec"]["containers"][0]["image"].endswith(":2026.03.10")
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["amd.com/gpu"] == "8" for p in today)

    # 8. llama.cpp: the init container completed (exit 0) after wget failed; the server exits 1 on the cut file.
    (coder,) = pods_named(dump, "edge-llm", "llamacpp-qwen-coder-")
    (fetch,) = coder["status"]["initContainerStatuses"]
    assert fetch["name"] == "fetch-model" and fetch["state"]["terminated"]["exitCode"] == 0
    assert _waiting(coder, "llama-server") == "CrashLoopBackOff"
    assert status_of(coder, "llama-server")["lastState"]["terminated"]["exitCode"] == 1
    text = logs_of(dump, "edge-llm", coder["metadata"]["name"])
    assert text.index("No space left on device") < text.index("model is corrupted or incomplete")
    (healthy,) = pods_named(dump, "edge-llm", "llamacpp-llama31-8b-")
    assert status_of(healthy, "llama-server")["ready"]
    assert "main: model loaded" in logs_of(dump, "edge-llm", healthy["metadata"]["name"])

    # 9. Topology manager: every third-replica attempt is rejected on h200-n02; the two others run on h200-n01.
    tp4 = pods_named(dump, "translate-serving", "mt-nllb-tp4-")
    rejected = [p for p in tp4 if p["status"]["phase"] == "Failed"]
    assert len({_owner(p) for p in tp4}) == 1 and len(rejected) > 5
    assert all(p["status"]["reason"] == "TopologyAffinityError" and p["spec"]["nodeName"] == "h200-n02"
               for p in rejected)
    assert sorted(p["spec"]["nodeName"] for p in tp4 if p not in rejected) == ["h200-n01", "h200-n01"]
    refusals = events(dump, "translate-serving", "TopologyAffinityError")
    assert len(refusals) == len(rejected) and all(e["source"]["component"] == "kubelet" for e in refusals)
    used = sum(int(p["spec"]["containers"][0]["resources"]["requests"].get("nvidia.com/gpu", "0"))
               for p in all_pods(dump) if p["spec"].get("nodeName") == "h200-n02" and p["status"]["phase"] == "Running")
    assert used == 4  # four GPUs free, split across the NUMA nodes

    # 10. Ingress: every 504 took 60 s, and vLLM aborted exactly as many requests as nginx timed out.
    timeouts = access = 0
    for pod in items(dump, "llm-edge", "pods"):
        text = logs_of(dump, "llm-edge", pod["metadata"]["name"])
        timeouts += text.count("upstream timed out (110: Connection timed out)")
        slow = re.findall(r'"POST /v1/chat/completions HTTP/1.1" 504 \d+ "-" "[^"]+" \d+ (\S+) ', text)
        assert all(60.0 <= float(took) < 60.01 for took in slow)
        access += len(slow)
    aborted = sum(logs_of(dump, "docs-ai", p["metadata"]["name"]).count("Aborted request")
                  for p in pods_named(dump, "docs-ai", "report-writer-vllm-"))
    assert timeouts == access == aborted > 0

    check_logs_contain(dump, (
        "Workload requires preemption, but there are no candidate workloads allowed for preemption",
        "InsufficientInstanceCapacity: We currently do not have sufficient p5.48xlarge capacity",
        "Registered device plugin for 'nvidia.com/gpu' with Kubelet",
        "Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct",
        "XMinioAdminBucketQuotaExceeded",
        "Unable to open /dev/kfd read-write: Permission denied",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError",
        "main: exiting due to model loading error",
        "assigned GPUs 4,5 (NUMA node 1)",
        "while reading response header from upstream",
    ))


def test_lumen_secrets_are_planted_for_redaction(dump: Path) -> None:
    check_secrets_are_planted(dump)


def test_unknown_scenario_error_names_lumen() -> None:
    with pytest.raises(ValueError, match="lumen"):
        build_cluster(seed=1, scenario="lumens")


def test_cli_scenario_lumen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_cli_scenario(tmp_path, capsys, "lumen", "lumens", ("kueuecohort-1", "numaalign-2"))
