"""The cluster dataset builder: grounded questions, redaction, and a split that never leaks an incident."""

from __future__ import annotations

import json

from kubetrainer.cli import main
from kubetrainer.rag.prompt import FENCE_CLOSE, FENCE_OPEN
from kubetrainer.records import make_record, write_jsonl
from kubetrainer.train.cluster_dataset import build_dataset, finding_examples, question_for, teacher_summary
from kubetrainer.train.formats import load_splits


def _pod_event(ts, ns, pod, reason, message, type_="Warning"):
    return make_record(
        "event", ts, "dump", f"{type_} event on Pod {ns}/{pod}: {reason}: {message}", namespace=ns, pod=pod,
        labels={"reason": reason, "type": type_, "involved_kind": "Pod", "involved_name": pod},
    )


def _pod_status(ts, ns, pod, summary):
    return make_record("object", ts, "dump", summary, namespace=ns, pod=pod,
                       object={"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns, "summary": summary})


def _records():
    """Records in the renderer's status format (sources.render), a real scheduler message and kernel Xid line."""
    return [
        _pod_event("2026-01-01T10:00:00Z", "web", "api-1", "BackOff", "Back-off restarting failed container api"),
        _pod_status("2026-01-01T10:01:00Z", "web", "api-1", "Pod web/api-1 on node cpu-0: phase Running; container api waiting: "
                    "CrashLoopBackOff, 7 restarts, last terminated: OOMKilled exit code 137; images api:1."),
        make_record("log", "2026-01-01T10:02:00Z", "dump", "FATAL: could not connect, password=hunter2secret", namespace="web", pod="api-1", container="api"),
        _pod_status("2026-01-02T08:59:00Z", "ml", "trainer-0", "Pod ml/trainer-0 (not scheduled to a node): phase Pending; "
                    "GPU limits nvidia.com/gpu=8; images trainer:2."),
        _pod_event("2026-01-02T09:00:00Z", "ml", "trainer-0", "FailedScheduling", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."),
        make_record("object", "2026-01-03T08:00:00Z", "dump", "Node gpu-b: NotReady; MemoryPressure=True (KubeletHasInsufficientMemory)", node="gpu-b",
                    object={"apiVersion": "v1", "kind": "Node", "name": "gpu-b", "namespace": None,
                            "summary": "Node gpu-b: NotReady (Ready=Unknown: NodeStatusUnknown); MemoryPressure=True (KubeletHasInsufficientMemory)"}),
        make_record("log", "2026-01-04T07:00:00Z", "agent", "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.", node="gpu-c"),
        make_record("log", "2026-01-04T07:00:01Z", "agent", "all good, 200 OK", node="gpu-c"),
    ]


def test_each_finding_gets_its_question_and_a_target_the_answer_guard_accepts():
    from kubetrainer.answer.compose import compose
    from kubetrainer.answer.guard import check
    from kubetrainer.answer.sources import Sources
    from kubetrainer.diagnose import diagnose

    findings = diagnose(_records())
    asked = {question_for(finding) for finding in findings}
    assert {"Why does pod web/api-1 keep restarting?", "Why is pod ml/trainer-0 Pending?",
            "What is wrong with node gpu-b?", "Which GPU failed on node gpu-c?"} <= asked
    for finding in findings:
        (qa, *_) = finding_examples(finding)
        system, user, target = qa["messages"]
        assert system["role"] == "system" and question_for(finding) in user["content"]
        sources = Sources([])
        composed = compose([finding], sources)
        assert composed.text in user["content"], "the prompt is the one the answer engine gives the model"
        verdict = check(target["content"], [finding], sources, user["content"])
        assert verdict.accepted, (finding.rule, target["content"], verdict.failures)
    restart = next(f for f in findings if question_for(f) == "Why does pod web/api-1 keep restarting?")
    assert "OOMKilled" in finding_examples(restart)[0]["messages"][-1]["content"]


def test_secrets_never_reach_the_dataset():
    document = build_dataset(_records(), eval_fraction=0.25, source="test")
    text = json.dumps(document)
    assert "hunter2secret" not in text and "[REDACTED:" in text


def test_split_keeps_incidents_whole_and_eval_later():
    document = build_dataset(_records(), eval_fraction=0.5, source="test")
    train_incidents = {e["meta"]["incident"] for e in document["train"]}
    eval_incidents = {e["meta"]["incident"] for e in document["eval"]}
    assert train_incidents and eval_incidents and not train_incidents & eval_incidents
    assert max(e["meta"]["ts"] for e in document["train"]) <= min(e["meta"]["ts"] for e in document["eval"])
    assert {e["meta"]["type"] for e in document["train"]} == {"qa", "text"}


def test_cli_writes_a_dataset_the_trainer_reads(tmp_path, capsys):
    source = tmp_path / "records.jsonl"
    write_jsonl(source, _records())
    out = tmp_path / "datasets" / "cluster_texts.json"
    assert main(["--home", str(tmp_path / "home"), "dataset", "build", "--source", str(source), "--out", str(out), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    format_name, train, evaluation = load_splits(out)
    assert format_name == "chat+text"
    assert (len(train), len(evaluation)) == (counts["train"], counts["eval"])


def test_records_with_nothing_to_learn_are_a_clear_error(tmp_path, capsys):
    source = tmp_path / "records.jsonl"
    write_jsonl(source, [make_record("log", "2026-01-01T00:00:00Z", "file", "hello", pod="p", namespace="n")])
    assert main(["dataset", "build", "--source", str(source), "--out", str(tmp_path / "x.json")]) == 2
    assert "no incident to learn from" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def _restating_teacher(messages: list[dict[str, str]]) -> str:
    """A teacher that phrases as asked: the diagnosis's first sentence (cause and citation) and its fix.

    A function at the phraser seam, so the test decides what the teacher says; the guard that judges it is real."""
    diagnosis = messages[-1]["content"].split(FENCE_OPEN, 1)[1].split(FENCE_CLOSE, 1)[0].strip().splitlines()
    fix = next(line for line in diagnosis if line.startswith("What to do:"))
    return f"In short, {diagnosis[0]} {fix}"


def _looping_teacher(messages: list[dict[str, str]]) -> str:
    return "The pod is broken. " * 12


def test_a_teacher_writes_the_train_targets_the_guard_accepts_and_eval_keeps_the_brief():
    document = build_dataset(_records(), eval_fraction=0.25, source="records", teacher=_restating_teacher)
    qa = [example for example in document["train"] if example["meta"]["type"] == "qa"]
    written = [example for example in qa if example["meta"]["target"] == "teacher"]
    assert written and all(example["messages"][-1]["content"].startswith("In short, ") for example in written)
    for example in qa:
        if example["meta"]["target"] == "diagnosis":
            assert example["meta"]["refused"] and not example["messages"][-1]["content"].startswith("In short")
    assert all(example["meta"]["target"] == "diagnosis" and "refused" not in example["meta"]
               for example in document["eval"] if example["meta"]["type"] == "qa")
    assert teacher_summary(document) == {"written": len(written), "targets": len(qa),
                                         "refused": teacher_summary(document)["refused"]}
    untaught = build_dataset(_records(), eval_fraction=0.25, source="records")
    assert [example["messages"][:-1] for example in untaught["train"] if "messages" in example] == \
        [example["messages"][:-1] for example in qa], "the teacher sees the prompt the answer engine gives a model"


def test_a_teacher_whose_text_fails_the_guard_leaves_the_composed_brief():
    document = build_dataset(_records(), eval_fraction=0, source="records", teacher=_looping_teacher)
    untaught = build_dataset(_records(), eval_fraction=0, source="records")
    assert [example["messages"] for example in document["train"] if "messages" in example] == \
        [example["messages"] for example in untaught["train"] if "messages" in example]
    summary = teacher_summary(document)
    assert summary["written"] == 0 and summary["refused"]["repetition"] == summary["targets"] > 0


def test_cli_dataset_build_with_a_real_teacher_model_reports_what_it_wrote(tmp_path, capsys, tiny_model_dir):
    source = tmp_path / "records.jsonl"
    write_jsonl(source, _records())
    out = tmp_path / "distilled.json"
    assert main(["--home", str(tmp_path / "home"), "dataset", "build", "--source", str(source), "--out", str(out),
                 "--teacher", str(tiny_model_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    document = json.loads(out.read_text())
    assert summary["teacher"] == teacher_summary(document) and summary["teacher"]["targets"] > 0
    # a random tiny model writes nothing grounded: every target stays the brief, each refusal says why
    assert summary["teacher"]["written"] == 0 and sum(summary["teacher"]["refused"].values()) >= summary["teacher"]["targets"]
    format_name, train, _ = load_splits(out)
    assert format_name == "chat+text" and train
