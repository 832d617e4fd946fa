"""Alert -> investigation on real parts: Debian's `prometheus` and `prometheus-alertmanager` processes,
`kubetrainer serve` (a tiny model, the sample cluster's index) in this process on a free port.

The test serves kube-state-metrics series for the sample cluster's planted incident (the
feature extractor in ml-training, OOMKilled and in CrashLoopBackOff). Prometheus scrapes them
and evaluates the shipped rules (time constants scaled down, expressions as shipped); its alerts
go to Alertmanager, configured with the README's receiver snippet, which posts them to
/v1/alerts with the bearer key. Then: the investigation names the cause with citations, a
re-sent alert updates it, the CLI investigates Alertmanager's alerts, the dashboard shows it,
the chat webhook got it once, and when the pod recovers the resolved alert closes it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubetrainer.cli import main
from tests.investigate.conftest import RULES, ChatWebhook, SampleIndex, serving_chat_webhook
from tests.serve.servers import free_port

REPO = Path(__file__).resolve().parents[2]
KEY = "alertmanager-webhook-key-0123456789"
MAX_BODY = 64 * 1024


def until(check: Callable[[], Any], timeout_s: float, what: str, logs: list[Path] = ()) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (with the processes' logs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}\n{tails}")


@dataclass
class Pod:
    """kube-state-metrics' view of the planted pod: crash looping (restarts climbing) or recovered."""

    namespace: str
    name: str
    crash_looping: bool = True
    restarts: int = 7

    def exposition(self) -> bytes:
        if self.crash_looping:
            self.restarts += 1
        labels = f'namespace="{self.namespace}",pod="{self.name}",container="app"'
        return (
            "# TYPE kube_pod_container_status_waiting_reason gauge\n"
            f'kube_pod_container_status_waiting_reason{{{labels},reason="CrashLoopBackOff"}} {int(self.crash_looping)}\n'
            "# TYPE kube_pod_container_status_last_terminated_reason gauge\n"
            f'kube_pod_container_status_last_terminated_reason{{{labels},reason="OOMKilled"}} 1\n'
            "# TYPE kube_pod_container_status_restarts_total counter\n"
            f"kube_pod_container_status_restarts_total{{{labels}}} {self.restarts}\n"
        ).encode()


@dataclass
class Stack:
    server: str
    alertmanager: str
    pod: Pod
    chat: ChatWebhook
    home: Path
    index: Path
    logs: list[Path] = field(default_factory=list)

    def investigations(self, **params: str) -> list[dict]:
        response = httpx.get(f"{self.server}/v1/investigations", params=params,
                             headers={"authorization": f"Bearer {KEY}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def of(self, alert: str) -> list[dict]:
        return [item for item in self.investigations() if item["alert"] == alert]


def scaled_rules() -> dict:
    """The shipped rules with test-sized time constants: no `for`, 10 s ranges instead of minutes."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[\d+m\]", "[10s]", rule["expr"])
            rule.pop("for", None)
    return rules


def receiver_snippet() -> dict:
    """The Alertmanager configuration the README shows."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Alerts"):]
    return yaml.safe_load(section[section.index("```yaml") + 7:section.index("```", section.index("```yaml") + 7)])


def start(command: list[str], log: Path, ready_url: str, logs: list[Path]) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(ready_url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    until(ready, 30, f"{command[0]} to be ready", logs)
    return process


def serve_metrics(pod: Pod) -> ThreadingHTTPServer:
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = pod.exposition()
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_app(home: Path, index: Path, model: Path, chat_url: str) -> tuple[Any, str]:
    """`kubetrainer serve`'s app under uvicorn in a thread, its MiniLM loaded before Alertmanager calls."""
    import uvicorn

    from kubetrainer.serve.app import create_app
    from kubetrainer.serve.config import ServeConfig

    app = create_app(ServeConfig(home=home, model=str(model), rag_index=index, api_keys=frozenset({KEY}),
                                 alert_webhook_url=chat_url, max_body_bytes=MAX_BODY))
    app.state.serve.rag.search("warm up the embedding model")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    until(lambda: server.started, 30, "the server to start")
    return server, f"http://127.0.0.1:{server.config.port}"


@pytest.fixture(scope="module")
def stack(sample_index: SampleIndex, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binaries = {name: shutil.which(name) for name in ("prometheus", "prometheus-alertmanager")}
    assert all(binaries.values()), f"missing {binaries}: run `make setup-test` (scripts/setup.d/50-alerting.sh)"
    work = tmp_path_factory.mktemp("alerting")
    pod = Pod("ml-training", sample_index.oom_pod.name)
    metrics = serve_metrics(pod)
    processes: list[subprocess.Popen] = []
    with serving_chat_webhook() as chat:
        server, base = serve_app(work / "home", sample_index.directory, tiny_model_dir, chat.url)
        stack = Stack(base, "", pod, chat, work / "home", sample_index.directory)
        try:
            (work / "api-key").write_text(KEY)
            config = receiver_snippet()
            config["route"] |= {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "3s"}
            webhook = config["receivers"][0]["webhook_configs"][0]
            webhook["url"] = f"{base}/v1/alerts"
            webhook["http_config"]["authorization"]["credentials_file"] = str(work / "api-key")
            (work / "alertmanager.yml").write_text(yaml.safe_dump(config))
            am_port = free_port()
            stack.alertmanager = f"http://127.0.0.1:{am_port}"
            stack.logs += [work / "alertmanager.log", work / "prometheus.log"]
            processes.append(start([binaries["prometheus-alertmanager"], f"--config.file={work / 'alertmanager.yml'}",
                                    f"--storage.path={work / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                                    "--cluster.listen-address=", "--log.level=debug"],
                                   work / "alertmanager.log", f"{stack.alertmanager}/-/ready", stack.logs))
            (work / "rules.yml").write_text(yaml.safe_dump(scaled_rules()))
            (work / "prometheus.yml").write_text(yaml.safe_dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(work / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [{"job_name": "kube-state-metrics", "static_configs": [
                    {"targets": [f"127.0.0.1:{metrics.server_address[1]}"]}]}],
            }))
            prometheus_port = free_port()
            processes.append(start([binaries["prometheus"], f"--config.file={work / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={work / 'tsdb'}",
                                    f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                                   work / "prometheus.log", f"http://127.0.0.1:{prometheus_port}/-/ready", stack.logs))
            yield stack
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
            server.should_exit = True
            metrics.shutdown()
            metrics.server_close()


def test_an_alert_from_prometheus_becomes_a_cited_investigation_and_its_resolution_closes_it(
        stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    crash = until(lambda: stack.of("KubePodCrashLooping"), 60, "the crash-loop investigation", stack.logs)[0]
    opened_after = time.monotonic() - started
    # what is wrong, with the evidence cited
    assert crash["status"] == "open" and crash["answered_by"] == "diagnosis"
    assert "OOMKilled" in crash["cause"] and stack.pod.name in crash["cause"]
    numbers = {hit["number"]: hit for hit in crash["citations"]}
    quotes = re.findall(r'^- "(.+)" \[(\d+)\]$', crash["summary"], re.MULTILINE)
    assert quotes and all(text in numbers[int(number)]["text"] for text, number in quotes)
    assert "What to do:" in crash["summary"] and all("path" not in hit["source"] for hit in crash["citations"])
    assert crash["scope"] == {"namespace": "ml-training", "pod": stack.pod.name, "container": "app"}
    assert any(f["rule"] == "oom-killed" and f["role"] == "named" for f in crash["findings"])
    assert crash["labels"]["severity"] == "warning" and crash["generator_url"].startswith("http://")
    oom = until(lambda: stack.of("KubePodOOMKilled"), 30, "the OOMKilled investigation", stack.logs)[0]
    assert "OOMKilled" in oom["cause"]

    # Alertmanager re-sends the firing alert (repeat_interval): the investigation updates, no twin appears
    resent = until(lambda: [i for i in stack.of("KubePodCrashLooping") if i["received"] >= 2], 30,
                   "a re-sent alert", stack.logs)
    assert len(stack.of("KubePodCrashLooping")) == 1 and resent[0]["opened_at"] == crash["opened_at"]

    # the CLI investigates the same alert from Alertmanager's API
    assert main(["--home", str(stack.home), "investigate", "--alertmanager-url", stack.alertmanager,
                 "--label", "alertname=KubePodCrashLooping", "--index", str(stack.index), "--json"]) == 0
    (from_cli,) = json.loads(capsys.readouterr().out)
    assert from_cli["fingerprint"] == crash["fingerprint"] and from_cli["cause"] == crash["cause"]

    _dashboard_shows(stack, crash)

    # the pod recovers: the rule stops firing, Alertmanager sends "resolved", the investigation closes
    stack.pod.crash_looping = False
    recovered = time.monotonic()
    closed = until(lambda: [i for i in stack.of("KubePodCrashLooping") if i["status"] == "closed"], 60,
                   "the resolved alert to close the investigation", stack.logs)[0]
    assert closed["closed_at"] and "OOMKilled" in closed["summary"]
    assert stack.investigations(status="open") == [i for i in stack.investigations() if i["status"] == "open"]

    # chat got one message when it opened and one when it closed, however often it was re-sent
    def chat_texts() -> list[str] | None:
        texts = [body["text"] for body in stack.chat.delivered() if "KubePodCrashLooping" in body["text"]]
        return texts if any("resolved" in text for text in texts) else None

    texts = until(chat_texts, 15, "the chat messages")
    assert len(texts) == 2 and "OOMKilled" in texts[0] and texts[1].startswith(":white_check_mark:")
    print(f"opened {opened_after:.1f}s after start, closed {time.monotonic() - recovered:.1f}s after recovery")


def _dashboard_shows(stack: Stack, investigation: dict) -> None:
    """The dashboard's open-investigations panel lists it (headless Debian Chromium, as the dashboard tests)."""
    from playwright.sync_api import sync_playwright

    from tests.serve.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{stack.server}/dashboard#key={KEY}")
            row = page.wait_for_selector(f'#investigations tr[data-fingerprint="{investigation["fingerprint"]}"]',
                                         timeout=30000)
            assert "KubePodCrashLooping" in row.inner_text() and "OOMKilled" in row.inner_text()
            assert page.locator("#investigations-panel").is_visible()
        finally:
            browser.close()


def test_bad_requests_are_refused_with_the_field_named(stack: Stack) -> None:
    auth = {"authorization": f"Bearer {KEY}"}
    url = f"{stack.server}/v1/alerts"
    assert httpx.post(url, json={"version": "4", "alerts": []}).status_code == 401  # no key
    malformed = httpx.post(url, headers=auth, json={"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "soon"}]})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["param"] == "alerts[0].startsAt"
    not_json = httpx.post(url, headers={**auth, "content-type": "application/json"}, content=b"{oops")
    assert not_json.status_code == 400 and not_json.json()["error"]["param"] == "body"
    huge = {"version": "4", "alerts": [{"labels": {"alertname": "X", "junk": "x" * MAX_BODY}}]}
    too_large = httpx.post(url, headers=auth, json=huge)
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "request_too_large"
    assert httpx.get(f"{stack.server}/v1/investigations", headers=auth, params={"status": "x"}).json()[
        "error"]["param"] == "status"
