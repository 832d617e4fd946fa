"""The Slack-style post, against a real local HTTP receiver: the message, retries with back-off, giving up."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubetrainer.investigate import notify
from kubetrainer.investigate.investigation import CLOSED, investigate
from kubetrainer.investigate.store import InvestigationStore
from tests.investigate.test_investigation import SECRET, crash_alert


def test_an_opened_investigation_is_posted_after_the_receiver_fails_twice(sample_index, retriever,
                                                                          chat_webhook) -> None:
    alert = crash_alert(sample_index.oom_pod.name, description=f"token {SECRET}")
    found = investigate(alert, retriever, sample_index.findings, datetime.now(UTC))
    chat_webhook.failures = 2
    started = time.monotonic()
    delivery = notify.post(chat_webhook.url, notify.message(found), first_backoff_s=0.2)
    assert delivery.delivered and delivery.attempts == 3 and delivery.status == 200
    assert time.monotonic() - started >= 0.2 + 0.4  # back-off doubled between the tries
    assert [attempt["status"] for attempt in chat_webhook.received] == [503, 503, 200]
    (text,) = [body["text"] for body in chat_webhook.delivered()]
    assert text.startswith(":rotating_light: *KubePodCrashLooping* (namespace ml-training, pod ")
    assert "OOMKilled" in text and "\nSources:\n[1] " in text and SECRET not in text


def test_a_closed_investigation_is_one_line_and_a_dead_receiver_is_given_up(sample_index, retriever, chat_webhook,
                                                                          tmp_path) -> None:
    store = InvestigationStore(tmp_path, limit=10)
    now = datetime.now(UTC)
    pod = sample_index.oom_pod.name
    store.receive(crash_alert(pod), lambda: investigate(crash_alert(pod), retriever, sample_index.findings, now), now)
    closed = store.receive(crash_alert(pod, status="resolved"), lambda: None, now).investigation
    assert closed.status == CLOSED
    chat_webhook.failures = 10
    delivery = notify.post(chat_webhook.url, notify.message(closed), attempts=3, first_backoff_s=0.05)
    assert not delivery.delivered and delivery.attempts == 3 and delivery.status == 503
    assert chat_webhook.received[0]["body"] == {
        "text": f":white_check_mark: *KubePodCrashLooping* (namespace ml-training, pod {pod}, container app) "
                "resolved; investigation closed."}


def test_a_refusal_is_not_retried_and_an_unreachable_url_is_retried() -> None:
    calls = []

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            calls.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    import threading

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        delivery = notify.post(f"http://127.0.0.1:{server.server_address[1]}/hook", {"text": "x"}, first_backoff_s=0.01)
    finally:
        server.shutdown()
        server.server_close()
    assert (delivery.delivered, delivery.attempts, delivery.status, len(calls)) == (False, 1, 404, 1)
    gone = notify.post(f"http://127.0.0.1:{server.server_address[1]}/hook", {"text": "x"}, attempts=2,
                       first_backoff_s=0.01, timeout_s=1)
    assert (gone.delivered, gone.attempts, gone.status) == (False, 2, None)
