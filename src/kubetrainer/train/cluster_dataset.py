"""Cluster records -> training data in the grounded answer form: the diagnosis decides, the model learns to phrase it.

Pure functions over record dicts. Records are redacted, then diagnosed (`kubetrainer.diagnose`,
the one home of what counts as broken). Each finding yields the question an operator asks
about it and, as the target, the short cited phrasing the answer guard accepts, with the
prompt the answer engine gives the model (`answer.phrase`): so a tuned model learns exactly
the task it does at answer time. The finding's evidence lines also become raw text for
continued pre-training. The split is by finding and time: the latest findings go to eval
whole, so no incident's facts leak from train into eval.

Sequence-level distillation (`--teacher`): a bigger model phrases each training finding's
diagnosis, and its text becomes the target where the answer guard accepts it (cause stated,
citations that hold the evidence, no invented names, no loop); elsewhere the composed brief
stays. The student then learns the teacher's phrasing, never a fact the diagnosis did not
give. Eval targets stay the brief, the reference every run is scored against.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.answer.compose import brief, compose
from kubetrainer.answer.explain import phrase_finding
from kubetrainer.answer.phrase import Phraser, phrasing_messages
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import Finding, diagnose
from kubetrainer.errors import UserError
from kubetrainer.sources.auto import records_from_path
from kubetrainer.sources.base import Problems

Progress = Callable[[int, int], None]
RESTARTING = frozenset({"crash-loop", "oom-killed", "init-container-failed", "liveness-probe"})


def question_for(finding: Finding) -> str:
    """What an on-call engineer asks about this finding's object."""
    where = f"{finding.namespace}/{finding.name}" if finding.namespace else finding.name
    if finding.rule in RESTARTING:
        return f"Why does pod {where} keep restarting?"
    if finding.rule == "unschedulable":
        return f"Why is pod {where} Pending?"
    if finding.rule in ("gpu-xid", "gpu-ecc", "gpu-withheld"):
        return f"Which GPU failed on node {finding.node or finding.name}?"
    return f"What is wrong with {finding.kind.lower()} {where}?"


def first_seen(finding: Finding) -> str:
    return min((item.ts for item in finding.evidence if item.ts), default="9999")


def finding_examples(finding: Finding, teacher: Phraser | None = None) -> list[dict[str, Any]]:
    """The phrasing example (prompt as the answer engine builds it, target in the guarded form) and the raw lines.

    With a `teacher`, the target is its phrasing when the guard accepts it (meta `target`: teacher), else the
    brief (meta `target`: diagnosis, and `refused`: the guard's reasons)."""
    question = question_for(finding)
    meta = {"incident": finding.id, "ts": first_seen(finding), "rule": finding.rule}
    if teacher is None:
        composed = compose([finding], Sources([]))
        prompt, target, written = phrasing_messages(question, composed.text), brief(composed), {"target": "diagnosis"}
    else:
        phrasing = phrase_finding(finding, question, teacher)
        prompt, accepted = phrasing.prompt, phrasing.verdict.accepted
        target = phrasing.text if accepted else brief(phrasing.composed)
        written = {"target": "teacher"} if accepted else {"target": "diagnosis", "refused": phrasing.verdict.failures}
    examples = [{"messages": [*prompt, {"role": "assistant", "content": target}], "meta": {**meta, "type": "qa", **written}}]
    lines = [item.text for item in finding.evidence if item.kind in ("log", "event")]
    if lines:
        examples.append({"text": "\n".join(lines), "meta": {**meta, "type": "text"}})
    return examples


def split_by_finding(findings: list[Finding], eval_fraction: float) -> tuple[list[Finding], list[Finding]]:
    """The earliest findings train, the latest evaluate; a finding never straddles the split."""
    ordered = sorted(findings, key=lambda finding: (first_seen(finding), finding.id))
    if len(ordered) < 2 or eval_fraction == 0:
        return ordered, []
    held = min(max(1, round(len(ordered) * eval_fraction)), len(ordered) - 1)
    return ordered[: len(ordered) - held], ordered[len(ordered) - held :]


def build_dataset(records: Iterable[dict[str, Any]], *, eval_fraction: float, source: str,
                  teacher: Phraser | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The cluster_texts.json document (docs/datasets.md) from records; a `teacher` writes the train targets it
    can (`finding_examples`), told to `progress` (done, total) after each training finding."""
    from kubetrainer.redact import redact_record

    train, evaluation = split_by_finding(diagnose(redact_record(record) for record in records), eval_fraction)
    examples = []
    for done, finding in enumerate(train, start=1):
        examples += finding_examples(finding, teacher)
        if progress is not None:
            progress(done, len(train))
    return {
        "version": 1,
        "source": source,
        "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train": examples,
        "eval": [example for finding in evaluation for example in finding_examples(finding)],
    }


def teacher_summary(document: dict[str, Any]) -> dict[str, Any]:
    """How many train targets the teacher wrote, and why the guard refused the others (reason: count)."""
    qa = [example["meta"] for example in document["train"] if example["meta"]["type"] == "qa"]
    reasons = Counter(reason.split(":")[0] for meta in qa for reason in meta.get("refused", ()))
    return {"written": sum(meta["target"] == "teacher" for meta in qa), "targets": len(qa), "refused": dict(reasons)}


def read_records(source: Path) -> tuple[list[dict[str, Any]], Problems]:
    """(records, skipped inputs) from records JSONL, a cluster-info dump or a log tree, read as `index` reads them."""
    if not source.exists():
        raise UserError("the source does not exist", where=source, expected="a records JSONL file or a cluster-info dump directory")
    problems = Problems()
    return list(records_from_path(source, problems)), problems


def build_from_source(source: Path, out: Path, *, eval_fraction: float, teacher: Phraser | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Read, build, write atomically; the counts, what was skipped (each input once, as `index` reports it) and,
    with a `teacher`, what it wrote (`teacher_summary`)."""
    if not 0 <= eval_fraction < 1:
        raise UserError(f"{eval_fraction} is not a share", where="--eval-fraction",
                        expected="a number from 0 up to (not including) 1")
    records, skipped = read_records(source)
    if not records:
        raise UserError(f"no records could be read ({skipped.summary()})", where=source,
                        expected="records JSONL, a cluster-info dump or log files")
    document = build_dataset(records, eval_fraction=eval_fraction, source=str(source), teacher=teacher,
                             progress=progress)
    if not document["train"]:
        raise UserError("the records describe no incident to learn from", where=source, expected="events, pod/node status or log errors")
    atomic.write_json(out, document)
    summary = {"out": str(out), "records": len(records), "train": len(document["train"]),
               "eval": len(document["eval"]), "skipped": skipped.items}
    return {**summary, "teacher": teacher_summary(document)} if teacher is not None else summary
