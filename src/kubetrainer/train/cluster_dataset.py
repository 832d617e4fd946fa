"""Cluster records -> training data in the grounded answer form: the diagnosis decides, the model learns to phrase it.

Pure functions over record dicts. Records are redacted, then diagnosed (`kubetrainer.diagnose`,
the one home of what counts as broken). Each finding yields the question an operator asks
about it and, as the target, the short cited phrasing the answer guard accepts, with the
prompt the answer engine gives the model (`answer.phrase`): so a tuned model learns exactly
the task it does at answer time. The finding's evidence lines also become raw text for
continued pre-training. The split is by finding and time: the latest findings go to eval
whole, so no incident's facts leak from train into eval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.answer.compose import brief, compose
from kubetrainer.answer.phrase import phrasing_messages
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import Finding, diagnose
from kubetrainer.errors import UserError
from kubetrainer.sources.auto import records_from_path
from kubetrainer.sources.base import Problems

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


def finding_examples(finding: Finding) -> list[dict[str, Any]]:
    """The phrasing example (prompt as the answer engine builds it, target in the guarded form) and the raw lines."""
    question = question_for(finding)
    composed = compose([finding], Sources([]))
    meta = {"incident": finding.id, "ts": first_seen(finding), "rule": finding.rule}
    examples = [{"messages": [*phrasing_messages(question, composed.text), {"role": "assistant", "content": brief(composed)}],
                 "meta": {**meta, "type": "qa"}}]
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


def build_dataset(records: Iterable[dict[str, Any]], *, eval_fraction: float, source: str) -> dict[str, Any]:
    """The cluster_texts.json document (docs/datasets.md) from records."""
    from kubetrainer.redact import redact_record

    train, evaluation = split_by_finding(diagnose(redact_record(record) for record in records), eval_fraction)
    return {
        "version": 1,
        "source": source,
        "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train": [example for finding in train for example in finding_examples(finding)],
        "eval": [example for finding in evaluation for example in finding_examples(finding)],
    }


def read_records(source: Path) -> tuple[list[dict[str, Any]], Problems]:
    """(records, skipped inputs) from records JSONL, a cluster-info dump or a log tree, read as `index` reads them."""
    if not source.exists():
        raise UserError("the source does not exist", where=source, expected="a records JSONL file or a cluster-info dump directory")
    problems = Problems()
    return list(records_from_path(source, problems)), problems


def build_from_source(source: Path, out: Path, *, eval_fraction: float) -> dict[str, Any]:
    """Read, build, write atomically; the counts and what was skipped (each input once, as `index` reports it)."""
    if not 0 <= eval_fraction < 1:
        raise UserError(f"{eval_fraction} is not a share", where="--eval-fraction",
                        expected="a number from 0 up to (not including) 1")
    records, skipped = read_records(source)
    if not records:
        raise UserError(f"no records could be read ({skipped.summary()})", where=source,
                        expected="records JSONL, a cluster-info dump or log files")
    document = build_dataset(records, eval_fraction=eval_fraction, source=str(source))
    if not document["train"]:
        raise UserError("the records describe no incident to learn from", where=source, expected="events, pod/node status or log errors")
    atomic.write_json(out, document)
    return {"out": str(out), "records": len(records), "train": len(document["train"]), "eval": len(document["eval"]),
            "skipped": skipped.items}
