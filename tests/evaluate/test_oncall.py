"""On-call answer scores: facts stated, citations that hold the evidence, loops, and their summary."""

from __future__ import annotations

from kubetrainer.evaluate.facts import states
from kubetrainer.evaluate.oncall import citation_precision, cites_expected_evidence, conversations, score, summarize

QUESTION = {"id": "q1", "question": "Why does api restart?", "facts": ["OOMKilled|out of memory", "137"],
            "evidence": [{"namespace": "web", "name": "api-1", "contains": "OOMKilled"}]}
SOURCES = [{"text": "Pod web/api-1: container app waiting: CrashLoopBackOff, last terminated: OOMKilled exit code 137",
            "source": {"kind": "object", "namespace": "web", "name": "api-1"}},
           {"text": "Routine log patterns: 12x GET /healthz", "source": {"kind": "log", "namespace": "web", "name": "web-9"}}]


def test_a_fact_is_stated_by_any_of_its_alternatives_case_insensitively():
    assert states("The container ran OUT OF MEMORY.", "OOMKilled|out of memory")
    assert not states("The container crashed.", "OOMKilled|out of memory")
    assert not states("anything", "|")


def test_cause_with_citation_needs_every_fact_and_a_cited_source_holding_the_evidence():
    right = score(QUESTION, "api-1 is OOMKilled, exit code 137 [1].", "diagnosis", SOURCES, ["last terminated: OOMKilled"], 1.0)
    assert right.cause_cited and right.citations == (1, 1) and not right.degenerate
    wrong_citation = score(QUESTION, "api-1 is OOMKilled, exit code 137 [2].", "diagnosis", SOURCES, ["OOMKilled"], 1.0)
    assert not wrong_citation.cause_cited and wrong_citation.citations == (0, 1)
    missing_fact = score(QUESTION, "api-1 is OOMKilled [1].", "diagnosis", SOURCES, ["OOMKilled"], 1.0)
    assert not missing_fact.cause_cited and missing_fact.facts == {"OOMKilled|out of memory": True, "137": False}
    assert not cites_expected_evidence("OOMKilled 137 [9]", SOURCES, QUESTION["evidence"])


def test_citation_precision_counts_each_mark():
    assert citation_precision("a [1] b [1] c [2] d [5]", SOURCES, ["OOMKilled exit code 137"]) == (2, 4)


def test_summary_of_a_variant():
    rows = [score(QUESTION, "api-1 is OOMKilled, exit code 137 [1].", "diagnosis", SOURCES, ["OOMKilled"], 1.0),
            score(QUESTION, "The above answers are correct. " * 4, "model", [], [], 3.0)]
    summary = summarize("base", rows)
    assert summary["questions"] == 2 and summary["fact_accuracy"] == 0.5 and summary["cause_with_citation"] == 0.5
    assert summary["degenerate_rate"] == 0.5 and summary["citation_precision"] == 1.0
    assert summary["latency_median_s"] == 2.0 and summary["model_phrasing_accepted"] == 0.5


def test_the_same_line_from_another_replica_of_the_replicaset_is_the_expected_evidence():
    evidence = [{"namespace": "web", "name": "api-7d9f8c6b5d-x2lqp", "contains": "forbidden sysctl"}]
    def cited(name):
        return [{"text": "Pod was rejected: forbidden sysctl", "source": {"kind": "event", "name": name}}]
    assert cites_expected_evidence("rejected [1]", cited("api-7d9f8c6b5d-x2lqp"), evidence)
    assert cites_expected_evidence("rejected [1]", cited("api-7d9f8c6b5d-q8wnm"), evidence)
    assert not cites_expected_evidence("rejected [1]", cited("api-5cngn46ltt-q8wnm"), evidence)  # another version
    assert not cites_expected_evidence("rejected [1]", cited("api-worker-7d9f8c6b5d-q8wnm"), evidence)
    job = [{"namespace": "ml", "name": "train-55cwn", "contains": "forbidden sysctl"}]
    assert not cites_expected_evidence("rejected [1]", cited("train-bsc8b"), job)  # another attempt of a Job


def test_an_evidence_phrase_with_aligned_columns_matches_the_source_as_it_is_normalized():
    evidence = [{"namespace": "vault", "name": "vault-0", "contains": "Unseal Progress    0/3"}]
    probe = [{"text": "Readiness probe failed: Key                Value\nSealed             true\nUnseal Progress    0/3",
              "source": {"kind": "event", "name": "vault-0"}}]
    assert cites_expected_evidence("sealed [1]", probe, evidence)


def test_questions_about_one_incident_are_one_conversation_in_file_order():
    questions = [{"id": "a-1", "question": "Why does api crash?", "incident": "a"},
                 {"id": "b-1", "question": "Why is db pending?", "incident": "b"},
                 {"id": "a-2", "question": "What changed?", "incident": "a"},
                 {"id": "a-3", "question": "How do we fix it?", "incident": "a"},
                 {"id": "x", "question": "Is any node down?"}]
    assert [(question["id"], earlier) for question, earlier in conversations(questions)] == [
        ("a-1", []), ("b-1", []), ("a-2", ["Why does api crash?"]), ("a-3", ["Why does api crash?", "What changed?"]),
        ("x", [])]
