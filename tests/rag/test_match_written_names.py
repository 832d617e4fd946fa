"""A question that writes an object's name out whole is about that object, not about one with similar name words."""

from __future__ import annotations

from kubetrainer.answer.match import chosen, name_tokens, rank_findings
from kubetrainer.diagnose.finding import Evidence, Finding


def _finding(rule: str, kind: str, name: str, cause: str, lines: list[str], node: str | None = None) -> Finding:
    return Finding(rule, "warning", kind, "ml" if kind == "Pod" else None, name, cause, "it matters", "fix it", (rule,),
                   [Evidence(text, "event", name=name) for text in lines], node=node)


NEAR_NAME = _finding("gpu-missing", "Node", "gpu-a100-mig-0", "registers no nvidia.com/gpu",
                     ["nvidia.com/gpu 0 (labelled NVIDIA A100 GPUs, none registered)"])
PREEMPTED = _finding("unschedulable", "Pod", "finetune-zzw22", "no node has enough free nvidia.com/gpu",
                     ["Preempted: Preempted by pod 68e72010 on node gpu-a100-5"])
ON_NODE = _finding("crash-loop", "Pod", "exporter-k2x9d", "keeps crashing", ["Back-off restarting"], node="gpu-a100-5")


def test_the_findings_naming_a_written_out_node_lead_over_a_node_with_similar_name_words():
    ranked = rank_findings("Is gpu-a100-5 faulty? The fine-tune keeps getting kicked off it.", [],
                           [NEAR_NAME, PREEMPTED, ON_NODE])
    assert [match.finding for match in ranked[:2]] == [ON_NODE, PREEMPTED]
    assert ranked[0].written_out == 1.0 and ranked[1].written_out == 0.5 and ranked[2].written_out == 0.0
    assert chosen(ranked)[0] is ON_NODE


def test_a_hyphenated_word_is_not_a_name_unless_an_object_has_it():
    ranked = rank_findings("Why does the fine-tune crash?", [], [NEAR_NAME, PREEMPTED, ON_NODE])
    assert all(match.written_out == 0.0 for match in ranked)
    named = rank_findings("Why does exporter-k2x9d crash?", [], [NEAR_NAME, PREEMPTED, ON_NODE])
    assert named[0].finding is ON_NODE and named[0].written_out == 1.0


def test_a_hyphenated_part_of_a_workloads_name_names_that_workload_and_not_another_with_one_of_its_words():
    writer = _finding("llm-request-aborted", "Pod", "report-writer-vllm-c69swgwg2j-xh9dx", "aborted requests",
                      ["Aborted request chatcmpl-1"])
    ui = _finding("log-errors", "Pod", "report-ui-kg2q9vngdg-gcq2x", "logs errors", ["report generation failed"])
    ranked = rank_findings("Is the report-writer model itself failing?", [], [ui, writer])
    assert ranked[0].finding is writer and ranked[0].name == 1.0 and ranked[0].written_out == 0.0
    assert ranked[1].name == 0.0, "its one name word is said only as part of another object's name"
    plain = rank_findings("Is the report writer model itself failing?", [], [ui, writer])
    assert [match.name for match in plain] == [1.0, 0.6], "words written apart name both, as before"


def test_a_gpu_products_name_in_node_names_is_a_name_word_and_generated_suffixes_are_not():
    assert name_tokens("gpu-h100-6") == {"gpu", "h100"}
    assert name_tokens("checkout-api-7d9f8c6b5d-x2lqp") == {"checkout", "api"}
    assert name_tokens("nightly-export-29554620-6zq49") == {"nightly", "export"}
    cordoned = _finding("node-cordoned", "Node", "gpu-v100-cordoned-0", "is cordoned (SchedulingDisabled)",
                        ["cordoned (unschedulable)"])
    missing = _finding("gpu-missing", "Node", "gpu-h100-6", "registers no nvidia.com/gpu",
                       ["nvidia.com/gpu 0 (labelled NVIDIA H100 80GB GPUs, none registered)"])
    ranked = rank_findings("One of the H100 nodes advertises zero GPUs. Which one?", [], [cordoned, missing])
    assert ranked[0].finding is missing and ranked[0].name > ranked[1].name


def test_a_question_naming_no_product_is_not_held_to_the_product_in_a_node_name():
    xid = _finding("gpu-xid", "Node", "gpu-h100-0", "reported Xid 79: the GPU has fallen off the bus",
                   ["XidCriticalError: Xid=79 on Device=GPU-061ae8d1-3 (GPU has fallen off the bus)"])
    ranked = rank_findings("Has any GPU hardware gone bad on the NVIDIA nodes?", [], [xid])
    assert ranked[0].name == 1.0, "gpu is all of its name this question can say"
    assert rank_findings("Has any GPU gone bad on the A100 nodes?", [], [xid])[0].name < 1.0


def test_two_findings_of_one_pod_held_by_the_same_lines_are_ranked_by_what_the_question_asks(tmp_path) -> None:
    # A Redis client after a failover logs both failures into one chunk: the retrieved chunk holds both findings
    # equally, so the question's meaning, not the rule's name, decides which leads.
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.retriever import Hit

    def failing(rule: str, cause: str, line: str) -> Finding:
        return Finding(rule, "warning", "Pod", "shop", "basket-api-4h6kv7m885-jcrhq", cause, "meaning", "fix", (),
                       evidence=[Evidence(line, "log", "shop", "basket-api-4h6kv7m885-jcrhq")])

    refused = failing("connection-refused", "connections to a dependency are refused: nothing is listening there",
                      "dial tcp 10.244.1.68:6379: connect: connection refused")
    readonly = failing("redis-readonly", "the client writes to a Redis replica, which is read-only: after a failover "
                       "it still talks to the old primary's address", "READONLY You can't write against a read only "
                       "replica.")
    question = "Which Redis node is the master now, and why didn't basket-api follow the failover?"
    # the retrieved chunk is closer to the question than either description (as retrieval makes it): a tie
    chunk = f"{question}\n{refused.evidence[0].text}\n{readonly.evidence[0].text}"
    hits = [Hit(1, 1.0, chunk, {"namespace": "shop", "name": "basket-api-4h6kv7m885-jcrhq"})]
    embed = Embedder(cache_dir=tmp_path).embed
    for findings in ([refused, readonly], [readonly, refused]):
        ranked = rank_findings(question, hits, findings, embed)
        assert ranked[0].score == ranked[1].score and ranked[0].finding.rule == "redis-readonly"
