"""Secrets the way real programs print them: the shared stream vectors, then properties.

The properties put each secret layout behind random logger prefixes, inside JSON
envelopes and across CRI partial lines, and check that no byte of the secret value
reaches a record. `tests/agent/test_redaction_layouts.py` runs the same layouts
through the Rust agent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrainer.redact import VECTORS_PATH, default_redactor
from kubetrainer.redact_keys import KeyBlock
from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import read_cri_file
from tests.core.layouts import LAYOUTS, Layout, cri_lines, prefixes, wrap

STREAMS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["streams"]["vectors"]


@pytest.mark.parametrize("vector", STREAMS, ids=[vector["name"] for vector in STREAMS])
def test_shared_stream_vector(vector: dict) -> None:
    block, total = KeyBlock(), Counter()
    out = []
    for line in vector["lines"]:
        text, counts = default_redactor().redact_line(line, block)
        out.append(text)
        total += counts
    assert out == vector["expected"]
    assert total == Counter(vector["counts"])


def _redact_stream(lines: list[str]) -> list[str]:
    block = KeyBlock()
    return [default_redactor().redact_line(line, block)[0] for line in lines]


def _leaks(layout: Layout, texts: list[str]) -> list[str]:
    joined = "\n".join(texts)
    return [piece for piece in layout.secrets if piece in joined]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=st.sampled_from(LAYOUTS), prefix=prefixes(), envelope=st.sampled_from(["plain", "json", "logfmt"]))
def test_no_layout_leaks_behind_prefixes_and_envelopes(layout: Layout, prefix: str, envelope: str) -> None:
    lines = [prefix + wrap(line, envelope) for line in layout.lines]
    assert not _leaks(layout, _redact_stream(lines)), (layout.name, lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(layout=st.sampled_from(LAYOUTS), prefix=prefixes(), data=st.data())
def test_no_layout_leaks_across_cri_partial_lines(tmp_path: Path, layout: Layout, prefix: str, data: st.DataObject) -> None:
    lines = [prefix + line for line in layout.lines]
    cuts = [sorted(data.draw(st.sets(st.integers(1, max(1, len(line) - 1)), max_size=4))) for line in lines]
    path = tmp_path / f"{layout.name}.log"
    path.write_text("".join(cri_lines(lines, cuts)), encoding="utf-8")
    problems = Problems()
    records = list(read_cri_file(path, problems, namespace="ns", pod="p", container="c", node=None))
    assert not problems.items
    assert len(records) == len(lines)
    assert not _leaks(layout, [record["message"] for record in records]), (layout.name, lines, cuts)
    assert all(record["redactions"] > 0 for record in records if layout.every_line_secret)


def test_layouts_cover_every_new_shape() -> None:
    """The property tests are only as good as their layouts: each must be redacted at all."""
    for layout in LAYOUTS:
        assert _leaks(layout, layout.lines) == list(layout.secrets), layout.name
        assert not _leaks(layout, _redact_stream(layout.lines)), layout.name
