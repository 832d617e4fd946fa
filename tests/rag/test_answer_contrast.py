"""A failing replica's node is quoted next to the node of a replica that works, and both count as quoted data."""

from __future__ import annotations

from kubetrainer.answer.compose import compose, with_compared
from kubetrainer.answer.contrast import compared_nodes, differing
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.rag.chunk import Chunk
from tests.diagnose.cluster import container, log, pod

CRASHING = dict(containers=[container(waiting=("CrashLoopBackOff", "back-off"), last=("Error", 1), restarts=9)])
SERVING = dict(containers=[container(ready=True)], conditions=[{"type": "Ready", "status": "True"}])


def _crash(records: list[dict]):
    return next(finding for finding in diagnose(records) if finding.name == "ws-gz2vmbzgp4-25lgb" and finding.startup)


def _records(working_node: str) -> list[dict]:
    # The same image on two node images: containerd 2.0 starts containers with a 1024 open-files limit.
    works = ["INFO: Uvicorn running on http://0.0.0.0:8765", "stats: 1005 open websockets (limit 1048576)"]
    fails = ["INFO: Uvicorn running on http://0.0.0.0:8765", "stats: 1005 open websockets (limit 1024)",
             "OSError: [Errno 24] Too many open files"]
    return [pod("ws-gz2vmbzgp4-pp9mv", "live", node=working_node, **SERVING),
            *(log("ws-gz2vmbzgp4-pp9mv", line, "live", node_name=working_node) for line in works),
            pod("ws-gz2vmbzgp4-25lgb", "live", node="new-0", **CRASHING),
            *(log("ws-gz2vmbzgp4-25lgb", line, "live", node_name="new-0") for line in fails)]


NODES = [Chunk(f"Node {name}: Ready; Ubuntu 24.04 LTS, kernel 6.8, containerd://{runtime}.", "object", name=name)
         for name, runtime in (("new-0", "2.0.2"), ("old-0", "1.7.19"))]


def test_the_failing_pods_node_is_quoted_next_to_the_node_of_a_working_replica():
    crash = _crash(_records("old-0"))
    compared = compared_nodes(crash, NODES)
    assert [passage.line for passage in compared] == [NODES[0].text, NODES[1].text]
    sources = Sources([], NODES)
    text = with_compared(compose([crash], sources).text, compared, sources)
    assert "Its node, and the node of a pod that works (what differs):" in text
    assert '- new-0 (fails): "containerd://2.0.2" [' in text and '- old-0 (works): "containerd://1.7.19" [' in text
    number = int(text.split('- old-0 (works): ')[1].split("[")[-1].rstrip("]"))
    assert sources.holds(number, NODES[1].text), "the mark points at the record it quotes"


def test_no_comparison_on_the_same_node_or_without_both_records():
    assert compared_nodes(_crash(_records("new-0")), NODES) == [], "a working replica on the same node says nothing"
    assert compared_nodes(_crash(_records("old-0")), NODES[:1]) == [], "the index lacks the working node's record"


def test_each_node_is_quoted_by_the_clauses_the_other_lacks_or_whole_when_they_say_the_same():
    new = "Node cpu-c-08: Ready; zone us-east-1a, instance type m6i.8xlarge, InternalIP 10.42.8.18; kernel 6.5.0."
    old = "Node cpu-c-02: Ready; zone us-east-1a, instance type m6i.8xlarge, InternalIP 10.40.12.22; kernel 6.5.0."
    assert differing(new, old) == ["InternalIP 10.42.8.18"] and differing(old, new) == ["InternalIP 10.40.12.22"]
    assert differing(new, new.replace("cpu-c-08", "cpu-c-09")) == []
