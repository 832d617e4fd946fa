"""The dashboard in a real headless Chromium (Debian's), against real server processes with generated data.

`kubetrainer serve` (a tiny random model; the dashboard router is part of its app) runs on a
free loopback port over sample nodes (nodes.json via $KUBETRAINER_DASHBOARD_INVENTORY) and an
hour of their GPU telemetry in the data home's harvest/: an Xid 79 with ECC errors on
gpu-h100-1, an overheating GPU on gpu-a100-0, a NotReady node. Playwright drives
/usr/bin/chromium; no browser is downloaded. Screenshots land in test-artifacts/.
The standalone `kubetrainer dashboard --demo` process is checked over plain HTTP.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kubetrainer.serve.dashboard import INVENTORY_ENV
from kubetrainer.serve.dashboard_sample import write_demo
from tests.serve.servers import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
XID_NODE, HOT_NODE, NOT_READY_NODE = "gpu-h100-1", "gpu-a100-0", "gpu-t4-notready-0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    data = tmp_path_factory.mktemp("dashboard")
    inventory, records = write_demo(data / "demo")
    harvest = data / "home" / "harvest" / "agent"
    harvest.mkdir(parents=True)
    shutil.copy(records / "gpu.jsonl", harvest / "gpu.jsonl")
    with (harvest / "gpu.jsonl").open("a") as handle:
        handle.write("{not json, a torn write\n")
    process = ServerProcess(["--model", str(tiny_model_dir)], data / "home", env={INVENTORY_ENV: str(inventory)})
    try:
        yield process.wait_ready(timeout_s=600).base_url  # a shared 2-core machine can take minutes to import torch
    finally:
        process.stop()


def test_standalone_dashboard_command_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-c", "from kubetrainer.cli import run; run()", "--home", str(tmp_path), "dashboard", "--demo", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                view = httpx.get(f"{base}/api/gpu/nodes", timeout=2).json()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`kubetrainer dashboard --demo` did not start: {process.stdout.read().decode()}")
                time.sleep(0.2)
        assert view["summary"]["critical"] == 3 and view["nodes"][0]["status"] == "critical"
        assert "uPlot" in httpx.get(f"{base}/dashboard").text
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def page(server: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_page(viewport={"width": 1500, "height": 1000}, device_scale_factor=1)
        requested: list[str] = []
        context.on("request", lambda request: requested.append(request.url))
        context.goto(f"{server}/dashboard")
        context.wait_for_selector("body[data-loaded=true]", timeout=30000)
        context.requested = requested
        yield context
        browser.close()


def _painted_pixels(page, selector: str) -> list[int]:
    """For each canvas matching `selector`: how many pixels are not transparent."""
    return page.eval_on_selector_all(selector, """canvases => canvases.map(canvas => {
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
        return painted;
    })""")


def test_every_gpu_node_is_a_row_and_unhealthy_ones_come_first(page, server: str) -> None:
    expected = json.loads(httpx.get(f"{server}/api/gpu/nodes").text)
    rows = page.locator("#nodes tbody tr")
    assert rows.count() == len(expected["nodes"]) >= 10
    statuses = [rows.nth(index).get_attribute("data-status") for index in range(rows.count())]
    assert statuses == sorted(statuses, key=["critical", "warning", "ok"].index)
    for name in (XID_NODE, HOT_NODE, NOT_READY_NODE):
        assert page.locator(f'tr[data-node="{name}"]').get_attribute("data-status") == "critical"
    assert "Xid 79" in page.locator(f'tr[data-node="{XID_NODE}"]').inner_text()
    assert "ECC" in page.locator(f'tr[data-node="{XID_NODE}"]').inner_text()
    assert "NotReady" in page.locator(f'tr[data-node="{NOT_READY_NODE}"]').inner_text()
    assert page.locator('tr[data-status="ok"]').count() >= 3


def test_unhealthy_rows_are_highlighted(page) -> None:
    def background(name: str) -> str:
        return page.eval_on_selector(f'tr[data-node="{name}"]', "row => getComputedStyle(row).backgroundColor")

    healthy = page.locator('tr[data-status="ok"]').first.get_attribute("data-node")
    assert background(XID_NODE) != background(healthy)
    assert page.locator(f'tr[data-node="{XID_NODE}"] .dot.critical').count() == 1
    assert page.locator(".card.critical .value").inner_text() == "3" or int(page.locator(".card.critical .value").inner_text()) >= 3


def test_fleet_charts_are_drawn_with_data(page) -> None:
    charts = page.locator(".chart[data-metric]")
    assert charts.count() == 6
    for index in range(charts.count()):
        assert int(charts.nth(index).get_attribute("data-points")) > 100
    painted = _painted_pixels(page, ".chart canvas")
    assert len(painted) == 6 and min(painted) > 2000
    assert "gpu-h100-1" in page.locator("#legend").inner_text()


def test_the_page_loads_nothing_from_the_network(page, server: str) -> None:
    assert page.requested and all(url.startswith(server) for url in page.requested)
    assert "1 input problem" in page.locator("#problems").inner_text()


def test_screenshot_of_the_fleet_then_one_node(page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.locator(f'tr[data-node="{XID_NODE}"]').click()
    page.wait_for_function(f"document.getElementById('charts-title').textContent.startsWith('{XID_NODE}')")
    page.wait_for_selector(".chart[data-metric] canvas")
    legend = page.locator("#legend").inner_text()
    assert "GPU 0" in legend and "GPU 7" in legend
    xid_points = page.locator('.chart[data-metric="DCGM_FI_DEV_XID_ERRORS"]').get_attribute("data-points")
    assert int(xid_points) > 0
    page.screenshot(path=str(ARTIFACTS / "dashboard-node.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 20000
