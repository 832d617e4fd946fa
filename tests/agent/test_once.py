"""`kubetrainer-agent --once` over a /var/log/pods tree: valid, redacted, stable records."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema

from kubetrainer.redact import VECTORS_PATH
from kubetrainer.sources.local_agent import run_agent_once

from .conftest import container_dir, cri_line, output_records, run_measured

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "schemas" / "record.schema.json").read_text())
VECTORS = json.loads(VECTORS_PATH.read_text())["vectors"]
SINGLE_LINE = [v for v in VECTORS if "\n" not in v["text"] and "\r" not in v["text"]]


def validate(records: list[dict]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for record in records:
        validator.validate(record)


def test_tree_to_valid_redacted_records(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    app = container_dir(pods)
    (app / "0.log").write_text("".join(cri_line(i, v["text"]) for i, v in enumerate(SINGLE_LINE)))
    dns = container_dir(pods, "kube-system", "coredns-abc", "uid-2", "coredns")
    (dns / "0.log").write_text(
        "2026-11-29T06:00:00.5+02:00 stderr P first half \n2026-11-29T06:00:00.6+02:00 stderr F second half\nnot a cri line\n"
    )
    key = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7bq1xFAKE", "QmFzZTY0RmFrZQ==", "-----END RSA PRIVATE KEY-----", "after"]
    (container_dir(pods, "default", "keys", "uid-3", "gen") / "0.log").write_text("".join(cri_line(i, t) for i, t in enumerate(key)))

    out = run_agent_once(pods, tmp_path / "state", tmp_path / "out", node_name="node-a", extra_args=["--kmsg", "none"])
    records = output_records(out)
    validate(records)
    logs = [r for r in records if r["kind"] == "log"]
    assert len(logs) == len(SINGLE_LINE) + 2 + len(key)
    assert any(r["kind"] == "metric" and r["metrics"]["node_memory_MemTotal_bytes"] > 0 for r in records)

    app_messages = [r for r in logs if r["container"] == "app"]
    for vector, record in zip(SINGLE_LINE, app_messages, strict=True):
        assert record["message"] == vector["expected"], vector["name"]
        assert record["redactions"] == sum(vector["counts"].values()), vector["name"]
        assert (record["node"], record["namespace"], record["pod"]) == ("node-a", "default", "web-0")

    dns_records = [r for r in logs if r["container"] == "coredns"]
    assert dns_records[0]["message"] == "first half second half"
    assert dns_records[0]["ts"] == "2026-11-29T04:00:00.5Z"
    assert dns_records[1]["labels"]["malformed"] == "true" and dns_records[1]["message"] == "not a cri line"

    key_records = [r["message"] for r in logs if r["container"] == "gen"]
    assert key_records == ["[REDACTED:private_key]"] * 4 + ["after"]


def test_ids_are_stable_and_reruns_add_only_new_lines(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    log = container_dir(pods) / "0.log"
    log.write_text(cri_line(1, "one") + cri_line(2, "two"))
    first = run_agent_once(pods, tmp_path / "state", tmp_path / "out1", extra_args=["--telemetry-interval", "0"])
    ids = [r["id"] for r in output_records(first)]
    assert len(ids) == 2

    run_agent_once(pods, tmp_path / "state", tmp_path / "out2", extra_args=["--telemetry-interval", "0"])
    assert output_records(tmp_path / "out2") == [], "nothing new, nothing written"

    with log.open("a") as handle:
        handle.write(cri_line(3, "three"))
    run_agent_once(pods, tmp_path / "state", tmp_path / "out3", extra_args=["--telemetry-interval", "0"])
    assert [r["message"] for r in output_records(tmp_path / "out3")] == ["three"]

    shutil.rmtree(tmp_path / "state")
    run_agent_once(pods, tmp_path / "state", tmp_path / "out4", extra_args=["--telemetry-interval", "0"])
    assert [r["id"] for r in output_records(tmp_path / "out4")][:2] == ids, "re-delivery keeps the ids"


def test_fifty_megabyte_line_is_capped_in_bounded_memory(tmp_path: Path, agent_bin: Path) -> None:
    pods = tmp_path / "pods"
    log = container_dir(pods) / "0.log"
    with log.open("w") as handle:
        handle.write("2026-11-29T04:31:07.000000001Z stdout F ")
        chunk = "x" * (1 << 20)
        for _ in range(50):
            handle.write(chunk)
        handle.write("\n" + cri_line(2, "after the big one"))
    peak_kib = run_measured(
        [str(agent_bin), "--pods-dir", str(pods), "--state-dir", str(tmp_path / "s"), "--output", f"file:{tmp_path / 'out'}",
         "--once", "--telemetry-interval", "0", "--max-line-bytes", "256KiB"]
    )
    records = output_records(tmp_path / "out")
    assert len(records) == 2
    big, after = records
    assert big["labels"]["truncated"] == "true"
    assert big["message"].startswith("x" * (256 << 10))
    assert big["message"].endswith(f"[TRUNCATED: {50 * (1 << 20) - (256 << 10)} more bytes]")
    assert after["message"] == "after the big one"
    assert peak_kib < 20 * 1024, f"agent peak RSS {peak_kib} KiB for a 50 MB line"


def test_million_small_lines(tmp_path: Path, agent_bin: Path) -> None:
    pods = tmp_path / "pods"
    count = 1_000_000
    with (container_dir(pods) / "0.log").open("w") as handle:
        for start in range(0, count, 10_000):
            handle.write("".join(cri_line(i, f"seq={i} GET /healthz 200") for i in range(start, start + 10_000)))
    subprocess.run(
        [str(agent_bin), "--pods-dir", str(pods), "--state-dir", str(tmp_path / "s"), "--output", f"file:{tmp_path / 'out'}",
         "--once", "--telemetry-interval", "0", "--file-max-bytes", "32MiB"],
        check=True,
    )
    files = sorted((tmp_path / "out").glob("*.jsonl"))
    assert len(files) > 1, "rotated by size"
    total = 0
    seen_first = seen_last = False
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                total += 1
                if b'"message":"seq=0 ' in line:
                    seen_first = True
                if f'"message":"seq={count - 1} '.encode() in line:
                    seen_last = True
    assert total == count and seen_first and seen_last
