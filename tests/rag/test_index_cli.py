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
