"""Chunking: routine log lines fold into templates with counts; problems stay verbatim with context."""

from __future__ import annotations

import json
import random

import pytest

from kubetrainer.rag.chunk import chunk_more, chunk_records, split_text
from kubetrainer.rag.logfold import LogFolder
from kubetrainer.records import make_record


def _log(second: int, message: str, pod: str = "api-1", container: str = "app") -> dict:
    return make_record("log", 1_773_482_400 + second, "dump", message, id=f"{second:032x}", namespace="web", pod=pod, container=container, node="cpu-0")


def test_a_thousand_identical_access_lines_fold_into_one_chunk() -> None:
    records = [_log(i, f'10.0.0.{i % 200} - - "GET /healthz HTTP/1.1" 200 {i % 50} "kube-probe/1.30"') for i in range(1000)]
    chunks = list(chunk_records(records, window_minutes=60))
    assert len(chunks) == 1
    chunk = chunks[0]
    assert "1000x" in chunk.text and "GET /healthz" in chunk.text
    assert "pod web/api-1" in chunk.text and "container app" in chunk.text and "node cpu-0" in chunk.text
    assert chunk.name == "api-1" and chunk.container == "app" and not chunk.problem
    assert chunk.ts_start < chunk.ts_end


def test_a_line_said_once_is_kept_verbatim_with_its_values_while_repeated_lines_fold() -> None:
    startup = ["INFO vLLM API server version 0.6.3", "INFO # GPU blocks: 1747, # CPU blocks: 2048",
               "INFO Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"]
    access = [f'INFO 10.0.0.{i % 9}:4{i % 7}12 - "POST /v1/completions HTTP/1.1" 200 OK' for i in range(300)]
    chunks = list(chunk_records([_log(i, line) for i, line in enumerate(startup + access)]))
    assert len(chunks) == 1 and not chunks[0].problem
    text = chunks[0].text
    assert text.count("/completions") == 1 and '300x INFO <*> - "POST /v1/completions HTTP/1.1" 200 OK' in text
    assert "Said once:" in text and all(line in text for line in startup)


def test_a_value_the_same_in_every_repeated_line_is_shown_and_only_what_varied_is_masked() -> None:
    checks = [f'{{"ts": "2026-03-14T0{i // 60}:{i % 60:02d}:00Z", "msg": "timetable check", "version": "v20260313.2", '
              f'"trips": 17104, "took_ms": {i % 7 + 3}}}' for i in range(12)]
    text = "\n".join(chunk.text for chunk in chunk_records([_log(i * 300, line) for i, line in enumerate(checks)]))
    assert '12x {"ts": "<*>", "msg": "timetable check", "version": "v20260313.2", "trips": 17104, "took_ms": <*>}' in text


def test_a_table_printed_at_once_keeps_its_rows_while_the_same_template_spread_out_folds() -> None:
    header = "index, pci.bus_id, serial, temperature.gpu, clocks.sm [MHz]"
    rows = [f"{i}, 00000000:{0x18 + i * 16:02X}:00.0, 16549220266{i:02d}, {60 + i}, 1980" for i in range(8)]
    table = [_log(100, header), *[_log(100, row) for row in rows]]
    polls = [_log(200 + i * 60, f"{i % 8}, 00000000:{0x18 + i * 16:02X}:00.0, 16549220266{i:02d}, {70 + i}, 1980")
             for i in range(8)]
    text = "\n".join(chunk.text for chunk in chunk_records(table))
    assert all(row in text for row in rows) and "8x" not in text
    first = LogFolder(window_minutes=60)
    list(chunk_more(table[:4], first))
    resumed = LogFolder(window_minutes=60, saved=json.loads(json.dumps(first.state())))
    assert "\n".join(chunk.text for chunk in chunk_more(table[4:], resumed)) == text  # a table split across batches
    spread = "\n".join(chunk.text for chunk in chunk_records(polls, window_minutes=60))
    assert "8x " in spread and polls[3]["message"] not in spread


def test_lines_said_once_are_shown_up_to_a_limit_and_the_rest_counted() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    lines = [f"{a}{b}{c} ready" for a in words for b in words[:3] for c in words[:2]]  # 60 distinct first words
    text = "\n".join(chunk.text for chunk in chunk_records([_log(i, line) for i, line in enumerate(lines)]))
    assert "... and 20 more lines said once" in text
    assert lines[0] in text and lines[-1] not in text


def test_errors_and_stack_traces_stay_verbatim_with_context() -> None:
    lines = ["INFO step 1 loss=2.1", "INFO step 2 loss=2.0", "Traceback (most recent call last):", '  File "/app/train.py", line 3, in main', "    loss.backward()",
             "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB", "INFO shutting down", "INFO step 3 loss=1.9"]
    chunks = list(chunk_records([_log(i, line) for i, line in enumerate(lines)]))
    problem = next(c for c in chunks if c.problem)
    for line in lines[1:7]:
        assert line in problem.text
    assert "INFO step 1 loss=2.1" not in problem.text
    routine = next(c for c in chunks if not c.problem)
    assert "Routine log patterns" in routine.text


def test_a_repeated_error_is_shown_once_and_counted() -> None:
    records = [_log(i * 30, f"ERROR lookup smtp.mail.svc on 10.96.0.10:53: no such host (attempt {i})") for i in range(40)]
    problem = [c for c in chunk_records(records) if c.problem]
    assert len(problem) == 1
    assert problem[0].text.count("no such host") == 2  # the verbatim line and the repeat summary
    assert "repeated 39 more times" in problem[0].text


def test_windows_and_containers_are_separate_chunks() -> None:
    records = [_log(i * 600, "INFO tick") for i in range(12)] + [_log(5, "INFO tock", container="sidecar")]
    chunks = list(chunk_records(records, window_minutes=60))
    assert {(c.container, c.ts_start[:13]) for c in chunks} == {("app", "2026-03-14T10"), ("app", "2026-03-14T11"), ("sidecar", "2026-03-14T10")}


def test_events_group_per_object_with_warnings_first() -> None:
    def event(reason: str, kind: str, second: int) -> dict:
        return make_record("event", 1_773_482_400 + second, "dump", f"{kind} event on Pod web/api-1: {reason}: something", namespace="web", pod="api-1", node="cpu-0",
                           labels={"reason": reason, "type": kind, "involved_kind": "Pod", "involved_name": "api-1"})

    chunks = list(chunk_records([event("Scheduled", "Normal", 0), event("BackOff", "Warning", 5), event("Started", "Normal", 1)]))
    assert len(chunks) == 1 and chunks[0].problem and chunks[0].kind == "event"
    lines = chunks[0].text.splitlines()
    assert lines[0] == "Events for Pod web/api-1 (node cpu-0):" and lines[1].startswith("Warning BackOff")


def test_objects_flag_problems_and_long_text_is_split_with_its_header() -> None:
    healthy = make_record("object", 0, "dump", "Pod web/a on node n: phase Running; container app running; images x.", object={"apiVersion": "v1", "kind": "Pod", "name": "a", "summary": "s"})
    broken = make_record("object", 0, "dump", "Pod web/b on node n: phase Running; container app waiting: CrashLoopBackOff, 4 restarts.", object={"apiVersion": "v1", "kind": "Pod", "name": "b", "summary": "s"})
    flags = [c.problem for c in chunk_records([healthy, broken])]
    assert flags == [False, True]
    pieces = split_text("HEADER:", "\n".join(f"line {i} " + "x" * 80 for i in range(60)), limit=500)
    assert len(pieces) > 5 and all(p.startswith("HEADER:\n") and len(p) <= 500 for p in pieces)
    assert "".join(p.removeprefix("HEADER:\n") for p in pieces).count("line ") == 60


def _mixed_logs(count: int) -> list[dict]:
    """Two containers over three hours: routine lines, errors that repeat, a stack trace, lines that vary."""
    lines = ["INFO step {i} loss=2.{i}", "GET /api/v1/items/{i} 200", "ERROR upstream timeout after 30s (attempt {i})",
             "Traceback (most recent call last):", '  File "/app/x.py", line {i}, in run', "ValueError: bad batch {i}",
             "WARN slow query user=u{i} took {i}ms", "INFO checkpoint saved to /ckpt/step-{i}"]
    return [make_record("log", 1_773_482_400 + i * 37, "dump", lines[(i * 7) % len(lines)].format(i=i), namespace="web",
                        pod="api-1", container="app" if i % 3 else "sidecar", node="cpu-0") for i in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_streamed_in_batches_fold_into_the_chunks_of_one_batch(seed: int) -> None:
    """Each batch resumes the saved (JSON) folding state; the live chunks are those of one pass over all records."""
    records = _mixed_logs(300)
    cuts = sorted(random.Random(seed).sample(range(1, len(records)), 25))
    live: dict[str, str] = {}
    saved: dict = {}
    for start, end in zip([0, *cuts], [*cuts, len(records)]):
        folder = LogFolder(window_minutes=60, saved=json.loads(json.dumps(saved)))
        made = list(chunk_more(records[start:end], folder))
        live = {chunk_id: text for chunk_id, text in live.items() if chunk_id not in folder.retired}
        live.update((chunk.id, chunk.text) for chunk in made)
        saved = folder.state()
    assert sorted(live.values()) == sorted(chunk.text for chunk in chunk_records(records, window_minutes=60))
    assert len(live) < 20


def test_an_event_line_names_the_component_that_reported_it_unless_kubernetes_itself_did() -> None:
    # core/v1 events carry `source.component`; events.k8s.io/v1 ones `reportingController`
    from kubetrainer.sources.kube import event_record

    involved = {"kind": "Certificate", "namespace": "helpdesk", "name": "support-example-com"}
    issued = {"metadata": {"name": "support-example-com.1", "namespace": "helpdesk"}, "involvedObject": involved,
              "reason": "Issuing", "message": "The certificate has been successfully issued", "type": "Normal",
              "lastTimestamp": "2026-03-14T10:55:09Z", "source": {"component": "cert-manager-certificates-issuing"}}
    requested = {"metadata": {"name": "support-example-com.2", "namespace": "helpdesk"}, "regarding": involved,
                 "reason": "Requested", "note": "Created new CertificateRequest resource", "type": "Normal",
                 "eventTime": "2026-03-14T10:55:01Z", "reportingController": "cert-manager-certificates-request-manager"}
    synced = {**issued, "reason": "Synced", "message": "Secret synced", "lastTimestamp": "2026-03-14T10:56:00Z",
              "source": {"component": "kubelet"}}
    (chunk,) = chunk_records([event_record(issued, "dump"), event_record(requested, "dump"), event_record(synced, "dump")])
    assert chunk.text.splitlines()[1:] == [
        "Normal Requested: Created new CertificateRequest resource [at 10:55:01 by cert-manager-certificates-request-manager]",
        "Normal Issuing: The certificate has been successfully issued [at 10:55:09 by cert-manager-certificates-issuing]",
        "Normal Synced: Secret synced [at 10:56:00]",
    ]
