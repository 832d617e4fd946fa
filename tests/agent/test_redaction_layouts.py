"""The secret layouts of tests/core/layouts.py through the real agent: no leaks, same text as Python.

Each case is one container log: a layout behind a logger prefix, in an envelope, with
every line split into CRI partial lines at random places. The agent and the Python CRI
reader must both keep every secret out, and must agree on every message, byte for byte.
"""

from __future__ import annotations

import random
import re
from collections import Counter
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


def _noise_line(rng: random.Random) -> str:
    """A line built to sit near every decision boundary: keywords, tokens of each class and length, PEM markers."""
    alphabets = ["abcdef0123456789", "ABCDEFabcdef0123456789", "abcdefghijklmnopqrstuvwxyz",
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "0123456789-_abcXYZ"]
    words = ["key", "secret_key:", "auth", "token=", "passwd", "Credential", "tokenizer", "monkey", "x-auth:", "pwd",
             "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED", '"', "'",
             "=", ":", "\\n", "LS0tLS1CRUdJTi", "password", "machine h login u password", "Authorization: Digest",
             "trace_id=", "sha256:", "é", "日本"]
    parts = []
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.5:
            parts.append(rng.choice(words))
        else:
            alphabet = rng.choice(alphabets)
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.choice([4, 15, 16, 19, 20, 31, 32, 33, 48]))))
    return rng.choice(["", " ", "  "]).join(parts)


def test_agent_and_python_agree_on_random_lines(tmp_path: Path) -> None:
    """Differential: both implementations of the patterns, the key blocks and the entropy backstop."""
    rng = random.Random(1515)
    pods = tmp_path / "pods"
    files = {}
    for stream_index in range(20):
        lines = [_noise_line(rng) for _ in range(40)]
        name = f"noise-{stream_index}"
        path = container_dir(pods, "default", name, f"uid-{name}", "app") / "0.log"
        path.write_text("".join(cri_lines(lines, [[] for _ in lines])), encoding="utf-8")
        files[name] = path
    out = run_agent_once(pods, tmp_path / "state", tmp_path / "out", extra_args=["--telemetry-interval", "0"])
    agent: dict[str, list[str]] = {}
    for record in output_records(out):
        agent.setdefault(record["pod"], []).append(record["message"])
    redacted: Counter[str] = Counter()
    for name, path in files.items():
        python = [r["message"] for r in read_cri_file(path, Problems(), namespace="default", pod=name, container="app",
                                                      node=None)]
        assert agent[name] == python, name
        redacted.update(kind for message in python for kind in re.findall(r"\[REDACTED:([a-z_]+)\]", message))
    # The comparison means something only if the lines exercise the backstop and the key blocks.
    assert redacted["high_entropy"] >= 10 and redacted["private_key"] >= 10, redacted
