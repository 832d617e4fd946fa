"""How evidence is quoted in a composed answer: verbatim parts, readable, each message once."""

from __future__ import annotations

import json
import re

from kubetrainer.answer.guard import loops
from kubetrainer.answer.sources import Sources
from kubetrainer.diagnose import diagnose
from kubetrainer.records import make_record


def test_json_lines_are_quoted_by_their_message_and_error_and_long_lines_are_clipped() -> None:
    from kubetrainer.answer.compose import QUOTE_CHARS, compose, quote

    error = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands "
             "that may modify the data set are disabled, because this instance is configured to report errors during "
             "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option).")
    lines = [json.dumps({"level": 50, "time": 1773479000000 + i, "msg": "slot hold failed",
                         "err": {"type": "ReplyError", "message": error, "stack": f"ReplyError: {error}\n    at parseError"},
                         "command": {"name": "set", "args": [f"hold:eye-{i}", "PX", "600000"]}}) for i in range(3)]
    quoted = quote(lines[0])
    assert quoted.startswith('"slot hold failed" — "MISCONF Redis is configured') and quoted.endswith('option)."')
    assert 'parseError' not in quoted and 'hold:eye' not in quoted
    assert all(piece in lines[0] for piece in re.split(r'"(?: — |…)"', quoted.strip('"'))), "each part is verbatim"
    short = '{"level":"warn","caller":"keys/rotator.go:41","msg":"signing key source not configured"}'
    assert quote(short) == f'"{short}"', "a short line is quoted whole, its caller included"
    wrapped = ('Failed to pull image "harbor.example.com/growth/ui:1.8.0": rpc error: code = Unknown desc = failed to '
               'pull and unpack image "harbor.example.com/growth/ui:1.8.0": failed to resolve reference '
               '"harbor.example.com/growth/ui:1.8.0": unexpected status from HEAD request to https://harbor.example.com'
               '/v2/growth/ui/manifests/1.8.0: 401 Unauthorized')
    clipped = quote(wrapped)
    assert clipped.startswith('"Failed to pull image') and clipped.endswith('401 Unauthorized"'), "the root cause stays"
    assert len(clipped) <= QUOTE_CHARS + 5 and all(piece in wrapped for piece in clipped.strip('"').split('"…"'))
    records = [make_record("log", f"2026-03-14T11:0{i}:00Z", "dump", line, namespace="bookings", pod="booking-1",
                           container="app", node="cpu-1") for i, line in enumerate(lines)]
    text = compose(diagnose(records), Sources([])).text
    assert not loops(text) and text.count("currently unable to persist to disk") == 1, "one quote, said once"


def test_a_line_two_replicas_logged_alike_is_cited_to_the_pod_that_logged_it() -> None:
    from kubetrainer.diagnose.finding import Evidence
    from kubetrainer.rag.chunk import Chunk
    from kubetrainer.rag.retriever import Hit

    line = "INFO:     Uvicorn running on http://0.0.0.0:8765 (Press CTRL+C to quit)"
    chunks = [Chunk(f"Logs of live/{pod} 05:31\n{line}", "log", namespace="live", name=pod)
              for pod in ("ws-1", "ws-2")]
    retrieved = [Hit(rank=1, score=1.0, text=chunks[0].text, source=chunks[0].source())]
    sources = Sources(retrieved, chunks)
    assert sources.cite(Evidence(line, "log", "live", "ws-2")) == 1
    assert sources.listed[0].source["name"] == "ws-2", "its own pod's chunk, not the retrieved one of its replica"
    assert sources.cite(Evidence(line, "log", "live", "ws-1")) == 2, "the retrieved chunk, for the pod that holds it"
    assert sources.cite(Evidence(line, "log", "live", "ws-9")) == 2, "no own source: any that holds the line"


def test_a_long_line_keeps_the_setting_its_failure_is_governed_by_from_its_middle():
    import re

    from kubetrainer.answer.compose import quote

    received = ("INFO 03-14 10:17:02 logger.py:37] Received request chatcmpl-aacf04be: prompt: '<|im_start|>system\\n"
                + "You write structured reports. " * 12 + "', params: SamplingParams(n=1, presence_penalty=0.0, "
                "temperature=0.2, top_p=1.0, max_tokens=4096, min_tokens=0, logprobs=None, skip_special_tokens=True, "
                "spaces_between_special_tokens=True, truncate_prompt_tokens=None, guided_decoding=None), "
                "prompt_token_ids: None, lora_request: None, prompt_adapter_request: None.")
    kept = quote(received, re.compile(r"\bmax_(?:completion_)?tokens\b\W{0,3}\d"))
    assert '"…"max_tokens=4096"…"' in kept and kept.startswith('"INFO 03-14 10:17:02')
    assert all(part in received for part in re.findall(r'"([^"]*)"', kept.replace('"…"', '"\n"')))
    assert "max_tokens" not in quote(received), "without a setting to keep, the head and the tail"
    client = '{"level": "info", "msg": "report-ui started", "max_tokens": 4096, "stream": false}'
    assert quote(client) == f'"{client}"', "a short line is quoted whole"
