"""Failure signatures get a plain-language meaning, so questions in on-call words find coded log lines."""

from __future__ import annotations

from kubetrainer.diagnose.knowledge import annotate, meanings
from kubetrainer.rag.chunk import chunk_records
from kubetrainer.records import make_record

DEVICE_PLUGIN = "W0314 10:50:00.412000 1 health.go:185] XidCriticalError: Xid=79 on Device=GPU-061ae8d1-3 (GPU has fallen off the bus)"
KERNEL = "NVRM: Xid (PCI:0000:3b:00): 48, pid=1234, name=python, An uncorrectable double bit error was detected"


def test_xid_codes_in_both_log_forms_are_explained():
    assert meanings(DEVICE_PLUGIN) == ["Xid 79: the GPU has fallen off the bus: a GPU hardware failure (PCIe, power or overheating)"]
    assert "double-bit ECC error" in meanings(KERNEL)[0]
    assert meanings("NVRM: Xid (PCI:0000:3b:00): 9999, unknown code") == []


def test_each_meaning_once_in_order_of_appearance():
    text = "dial tcp: lookup smtp.relay: no such host\nlast terminated: OOMKilled exit code 137\nOOMKilled again"
    found = meanings(text)
    assert len(found) == 2
    assert found[0].startswith("DNS lookup failure") and found[1].startswith("out of memory")
    assert meanings("Back-off restarting failed container") == [], "a symptom in plain words needs no meaning"


def test_annotate_puts_the_meaning_after_the_header_and_leaves_plain_text_alone():
    text = "Errors and warnings from container nvidia:\n" + DEVICE_PLUGIN
    lines = annotate(text).splitlines()
    assert lines[0] == "Errors and warnings from container nvidia:"
    assert lines[1].startswith("Meaning: Xid 79: the GPU has fallen off the bus") and lines[2] == DEVICE_PLUGIN
    assert annotate("GET /healthz 200 OK") == "GET /healthz 200 OK"


def test_only_problem_chunks_are_annotated():
    records = [
        make_record("log", "2026-03-14T10:50:00Z", "dump", DEVICE_PLUGIN, namespace="kube-system", pod="plugin-x", container="nvidia", node="gpu-1"),
        make_record("log", "2026-03-14T10:51:00Z", "dump", "reconciled 12 nodes, 0 NotReady", namespace="web", pod="api", container="app"),
    ]
    chunks = list(chunk_records(records))
    problem = next(c for c in chunks if c.problem)
    assert "Meaning: Xid 79" in problem.text and problem.name == "plugin-x"
    routine = next(c for c in chunks if c.name == "api")
    assert "Meaning:" not in routine.text
