"""CRI log files, manifests, runbooks, plain logs and records JSONL."""

from __future__ import annotations

import json
from pathlib import Path

from kubetrainer.records import make_record
from kubetrainer.sources.auto import records_from_path
from kubetrainer.sources.base import Problems
from kubetrainer.sources.cri import read_pods_dir
from kubetrainer.sources.files import read_files


def _pods_tree(root: Path) -> Path:
    log = root / "ml_trainer-0_0f1e2d3c-aaaa-bbbb-cccc-000000000001" / "train" / "0.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-03-14T10:00:00.123456789Z stdout F starting epoch 3\n"
        "2026-03-14T10:00:01.000000001Z stderr P RuntimeError: CUDA error: an illegal memory \n"
        "2026-03-14T10:00:01.000000002Z stderr F access was encountered\n"
        "garbage line without the CRI prefix\n"
    )
    (root / "README").mkdir()
    return log


def test_cri_joins_partial_lines_and_reports_bad_lines(tmp_path: Path) -> None:
    log = _pods_tree(tmp_path)
    problems = Problems()
    records = list(read_pods_dir(tmp_path, problems, node="gpu-h100-0"))
    assert [r["message"] for r in records] == ["starting epoch 3", "RuntimeError: CUDA error: an illegal memory access was encountered"]
    assert records[1]["stream"] == "stderr" and records[1]["ts"] == "2026-03-14T10:00:01.000000Z".replace(".000000", "")
    assert records[0]["namespace"] == "ml" and records[0]["pod"] == "trainer-0" and records[0]["container"] == "train"
    assert records[0]["node"] == "gpu-h100-0"
    assert any(f"{log}:4" in p for p in problems.items) and any("README" in p for p in problems.items)
    assert [r["id"] for r in read_pods_dir(tmp_path, Problems())] == [r["id"] for r in records]


def test_manifests_withhold_secret_values_and_skip_secrets(tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: web}\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: api:1\n"
        "        env:\n        - name: DB_PASSWORD\n          value: correct-horse-battery\n        - name: LOG_LEVEL\n          value: debug\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: abc123}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: web}\ndata: {timeout: 30s, api_key: zzz-top}\n"
    )
    problems = Problems()
    records = list(read_files([manifest], problems))
    assert [r["object"]["kind"] for r in records] == ["Deployment", "ConfigMap"]
    text = json.dumps(records)
    assert "correct-horse-battery" not in text and "zzz-top" not in text and "abc123" not in text
    assert "LOG_LEVEL" in text and "debug" in text and "timeout='30s'" in text
    assert any("Secret" in p and "never read" in p for p in problems.items)


def test_runbooks_split_by_section_and_text_logs_by_line(tmp_path: Path) -> None:
    runbook = tmp_path / "gpu.md"
    runbook.write_text("# GPU runbook\nintro\n## Xid 79\nDrain the node and reseat the GPU.\n## Xid 48\nDouble-bit ECC error: replace.\n")
    plain = tmp_path / "notes.log"
    plain.write_text("first\n\nsecond\n")
    records = list(records_from_path(tmp_path, Problems()))
    sections = [r for r in records if r["kind"] == "object"]
    assert [s["object"]["name"] for s in sections] == ["gpu#0", "gpu#1", "gpu#2"]
    assert "Drain the node" in sections[1]["message"] and "Xid 79" in sections[1]["message"]
    assert [r["message"] for r in records if r["kind"] == "log"] == ["first", "second"]
    assert all(r["labels"]["path"] for r in records)


def test_records_jsonl_are_read_and_redacted_again(tmp_path: Path) -> None:
    leaked = make_record("log", 0, "agent", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789", pod="p")
    path = tmp_path / "agent.jsonl"
    path.write_text(json.dumps(leaked) + "\n{broken\n" + json.dumps({**leaked, "v": 9}) + "\n")
    problems = Problems()
    records = list(read_files([path], problems))
    assert len(records) == 1 and "abcdefghijklmnop" not in records[0]["message"] and records[0]["redactions"] == 1
    assert records[0]["id"] != leaked["id"]
    assert len(problems.items) == 2 and all(str(path) in p for p in problems.items)


def test_binary_files_are_skipped_with_their_path(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02\xff")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    problems = Problems()
    assert list(read_files([tmp_path], problems)) == []
    assert len(problems.items) == 2 and any("blob.bin" in p for p in problems.items)
