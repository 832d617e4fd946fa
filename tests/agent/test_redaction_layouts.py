"""The secret layouts of tests/core/layouts.py through the real agent: no leaks, same text as Python.

Each case is one container log: a layout behind a logger prefix, in an envelope, with
every line split into CRI partial lines at random places. The agent and the Python CRI
reader must both keep every secret out, and must agree on every message, byte for byte.
"""

from __future__ import annotations

import random
from pathlib import Path

from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import read_cri_file
from kubetrainer.sources.local_agent import run_agent_once
from tests.core.layouts import LAYOUTS, cri_lines, wrap

from .conftest import container_dir, output_records

PREFIXES = ["", "2026-11-27T06:01:00Z DEBUG tls: ", "I1127 06:01:00.123456       1 main.go:42] ", "[pod/api-7f9c/api] "]
ENVELOPES = ["plain", "json", "logfmt"]
CASES_PER_LAYOUT = 6


def _cases(rng: random.Random) -> list[tuple[str, list[str]]]:
    cases = []
    for layout in LAYOUTS:
        for index in range(CASES_PER_LAYOUT):
            prefix, envelope = rng.choice(PREFIXES), ENVELOPES[index % len(ENVELOPES)]
            lines = [prefix + wrap(line, envelope) for line in layout.lines]
            cases.append((f"{layout.name.replace('_', '-')}-{index}", lines))
    return cases


def test_agent_and_python_keep_every_layout_out_and_agree(tmp_path: Path) -> None:
    rng = random.Random(15)
    pods = tmp_path / "pods"
    expected_secrets = {}
    files = {}
    for (name, lines), layout in zip(_cases(rng), [lay for lay in LAYOUTS for _ in range(CASES_PER_LAYOUT)], strict=True):
        cuts = [sorted(rng.sample(range(1, len(line)), min(3, len(line) - 1))) for line in lines]
        path = container_dir(pods, "default", name, f"uid-{name}", "app") / "0.log"
        path.write_text("".join(cri_lines(lines, cuts)), encoding="utf-8")
        expected_secrets[name], files[name] = layout.secrets, path

    out = run_agent_once(pods, tmp_path / "state", tmp_path / "out", extra_args=["--telemetry-interval", "0"])
    agent = {}
    for record in output_records(out):
        agent.setdefault(record["pod"], []).append(record["message"])
    assert sorted(agent) == sorted(files)
    for name, path in files.items():
        python = [r["message"] for r in read_cri_file(path, Problems(), namespace="default", pod=name, container="app",
                                                      node=None)]
        text = "\n".join(agent[name])
        assert not [piece for piece in expected_secrets[name] if piece in text], (name, agent[name])
        assert agent[name] == python, name
