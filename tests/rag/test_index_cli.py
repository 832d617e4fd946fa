"""`kubetrainer index` while another process writes the same index: refused with its PID, or `--wait`."""

from __future__ import annotations

import fcntl
import os
import threading

from kubetrainer.cli import main
from kubetrainer.versions import LOCK


def test_a_busy_index_is_refused_unless_wait(tmp_path, capsys):
    runbook = tmp_path / "runbook.md"
    runbook.write_text("# OOMKilled\nRaise the memory limit.\n")
    index = tmp_path / "home" / "index" / "default"
    index.mkdir(parents=True)
    fd = os.open(index / LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another writer holds the index
    os.pwrite(fd, b"4242", 0)
    argv = ["--home", str(tmp_path / "home"), "index", "--source", str(runbook)]
    other_finishes = threading.Timer(1.0, os.close, [fd])
    try:
        assert main(argv) == 2
        assert "is being written by PID 4242" in " ".join(capsys.readouterr().err.split())
        other_finishes.start()
        assert main([*argv, "--wait", "--json"]) == 0
    finally:
        if other_finishes.ident is not None:  # started: let it close the lock
            other_finishes.join()
        else:
            os.close(fd)
    assert '"records_added": 1' in capsys.readouterr().out


def test_the_summary_of_several_sources_adds_their_counts_and_reports_the_whole_diagnosis(tmp_path, capsys):
    import json

    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps({"v": 1, "id": "0123456789abcdef", "kind": "log", "ts": "2026-03-14T11:00:00Z", "source": "file",
                                "namespace": "web", "pod": "api-1", "container": "app",
                                "message": "ERROR boot: dial tcp: lookup db.data.svc.cluster.local: no such host"}) + "\n")
    runbook = tmp_path / "runbook.md"
    runbook.write_text("# OOMKilled\nRaise the memory limit.\n")
    argv = ["--home", str(tmp_path / "home"), "index", "--source", str(logs), "--source", str(runbook), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records_added"] == 2 and summary["findings"] == 1 and summary["chunks_total"] >= 2


def test_a_record_with_an_id_that_is_not_hex_is_skipped_with_its_line(tmp_path, capsys):
    import json

    logs = tmp_path / "logs.jsonl"
    good = {"v": 1, "id": "0123456789abcdef", "kind": "log", "ts": "2026-03-14T11:00:00Z", "source": "file",
            "message": "ERROR boot failed"}
    logs.write_text(json.dumps({**good, "id": "r1"}) + "\n" + json.dumps(good) + "\n")
    assert main(["--home", str(tmp_path / "home"), "index", "--source", str(logs), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records_added"] == 1
    assert summary["skipped"] == [f"{logs}:1: field id 'r1' is not 16 to 64 lower-case hex digits, skipped"]
