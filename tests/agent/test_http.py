"""The HTTP sink against a real receiver (http.server): down, then failing, then slow,
then fine; and back-pressure when the bounded spool is full."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .conftest import container_dir, cri_line, wait_for

TOKEN = "s3rvice-account-token-value"


class Receiver:
    """An ingest endpoint whose behaviour the test scripts: `errors` 503s, then `slow` slow 200s."""

    def __init__(self, port: int, errors: int = 0, slow: int = 0) -> None:
        self.errors, self.slow = errors, slow
        self.seqs: Counter[int] = Counter()
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.headers.append(dict(self.headers))
                if receiver.errors > 0:
                    receiver.errors -= 1
                    return self.reply(503)
                if receiver.slow > 0:
                    receiver.slow -= 1
                    time.sleep(1.0)
                for line in gzip.decompress(body).splitlines():
                    message = json.loads(line)["message"]
                    if message.startswith("seq="):
                        receiver.seqs[int(message[4:].split()[0])] += 1
                self.reply(200)

            def reply(self, status: int) -> None:
                receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_args(tmp_path: Path, port: int, *extra: str) -> list[str]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    return [
        "--pods-dir", str(tmp_path / "pods"), "--state-dir", str(tmp_path / "state"),
        "--output", f"http://127.0.0.1:{port}/v1/ingest", "--bearer-token-file", str(token),
        "--flush-interval", "0.05", "--scan-interval", "0.05", "--telemetry-interval", "0",
        "--retry-initial", "0.1", "--retry-max", "0.4", "--http-timeout", "5", *extra,
    ]


def write_lines(log: Path, start: int, stop: int) -> None:
    with log.open("a") as handle:
        handle.write("".join(cri_line(i, f"seq={i} token=abc{i}") for i in range(start, stop)))


def test_receiver_down_then_failing_then_slow(tmp_path: Path, run_agent) -> None:
    port = free_port()
    log = container_dir(tmp_path / "pods") / "0.log"
    agent = run_agent(*http_args(tmp_path, port, "--batch-bytes", "16KiB"))
    write_lines(log, 0, 500)
    spool = tmp_path / "state" / "spool"
    wait_for(lambda: any(spool.glob("*.ndjson.gz")), 30, "batches spooled while the receiver is down")
    write_lines(log, 500, 1000)
    receiver = Receiver(port, errors=3, slow=2)
    try:
        write_lines(log, 1000, 1500)
        wait_for(lambda: set(receiver.seqs) >= set(range(1500)), 60, "every line delivered")
        wait_for(lambda: not any(spool.glob("*.ndjson.gz")), 30, "the spool drained")
        assert agent.stop() == 0
    finally:
        receiver.close()
    assert receiver.statuses.count(503) == 3 and receiver.statuses.count(200) >= 3
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in receiver.headers)
    assert all(h["Content-Encoding"] == "gzip" and h["Content-Type"] == "application/x-ndjson" for h in receiver.headers)
    duplicates = sum(receiver.seqs.values()) - len(receiver.seqs)
    print(f"http: {len(receiver.seqs)} lines, {duplicates} duplicates")


def test_full_spool_pauses_reading(tmp_path: Path, run_agent) -> None:
    port = free_port()
    log = container_dir(tmp_path / "pods") / "0.log"
    write_lines(log, 0, 5000)
    agent = run_agent(*http_args(tmp_path, port, "--batch-bytes", "4KiB", "--spool-max-bytes", "8KiB"))
    spool = tmp_path / "state" / "spool"
    wait_for(lambda: sum(p.stat().st_size for p in spool.glob("*.ndjson.gz")) > 4096, 30, "the spool filling")
    time.sleep(1.5)
    spooled = sum(p.stat().st_size for p in spool.glob("*.ndjson.gz"))
    assert spooled <= 8192 + 4096, f"spool bounded ({spooled} bytes)"
    checkpoint = json.loads((tmp_path / "state" / "checkpoints.json").read_text())
    assert checkpoint["files"][0]["offset"] < log.stat().st_size, "reading paused, not buffered in memory"
    receiver = Receiver(port)
    try:
        wait_for(lambda: set(receiver.seqs) >= set(range(5000)), 90, "everything after the receiver came up")
        assert agent.stop() == 0
    finally:
        receiver.close()
