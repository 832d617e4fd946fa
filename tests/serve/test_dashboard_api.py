"""The dashboard router over HTTP (FastAPI's TestClient): page, assets, JSON API, file reloading."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kubetrainer.records import make_record, write_jsonl
from kubetrainer.serve.dashboard import DashboardSource, router, standalone_app
from kubetrainer.serve.dashboard_health import TEMP, UTIL
from kubetrainer.serve.dashboard_sample import write_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def client(demo: tuple[Path, Path]) -> TestClient:
    inventory, records = demo
    return TestClient(standalone_app(DashboardSource(records_dir=records, inventory_path=inventory)))


def test_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("dashboard/assets/dashboard.js", "dashboard/assets/dashboard.css", "dashboard/assets/vendor/uPlot.iife.min.js"):
        assert asset in page.text
        assert client.get(f"/{asset}").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN


@pytest.mark.parametrize("name", ["../dashboard.py", "..%2Fdashboard.py", "dashboard.html", "nope.js", "/etc/passwd"])
def test_only_listed_assets_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/dashboard/assets/{name}").status_code == 404


def test_nodes_api(client: TestClient) -> None:
    view = client.get("/api/gpu/nodes").json()
    by_name = {row["name"]: row for row in view["nodes"]}
    assert by_name["gpu-h100-1"]["status"] == "critical"
    assert any("Xid 79" in finding["text"] for finding in by_name["gpu-h100-1"]["findings"])
    assert "cpu-0" not in by_name and view["source"].startswith("file:")
    assert view["summary"]["critical"] >= 3 and view["problems_total"] == 0


def test_telemetry_api(client: TestClient) -> None:
    fleet = client.get("/api/gpu/telemetry", params={"max_points": 30}).json()
    assert "gpu-h100-1" in fleet["series"] and 2 <= len(fleet["ts"]) <= 30
    node = client.get("/api/gpu/telemetry", params={"node": "gpu-h100-1"}).json()
    assert node["series"] == [str(index) for index in range(8)]
    missing = client.get("/api/gpu/telemetry", params={"node": "no-such-node"})
    assert missing.status_code == 404 and "no-such-node" in missing.json()["detail"]
    assert client.get("/api/gpu/telemetry", params={"max_points": 1}).status_code == 422


def test_records_are_reread_when_a_file_changes_and_bad_lines_reported(tmp_path: Path) -> None:
    records = tmp_path / "harvest"
    first = make_record("gpu", "2026-11-29T04:00:00Z", "agent", "GPU 0", node="n1", metrics={UTIL: 10, TEMP: 40}, labels={"gpu": 0})
    write_jsonl(records / "agent" / "a.jsonl", [first])
    client = TestClient(standalone_app(DashboardSource(records_dir=records)))
    assert client.get("/api/gpu/nodes").json()["nodes"][0]["status"] == "ok"
    hot = make_record("gpu", "2026-11-29T04:01:00Z", "agent", "GPU 0", node="n1", metrics={TEMP: 95}, labels={"gpu": 0})
    (records / "b.jsonl").write_text(json.dumps(hot) + "\n{torn\n")
    view = client.get("/api/gpu/nodes").json()
    assert view["nodes"][0]["status"] == "critical" and view["nodes"][0]["telemetry"]["0"][UTIL] == 10
    assert view["problems_total"] == 1 and "b.jsonl:2" in view["problems"][0]
    os.remove(records / "b.jsonl")
    assert client.get("/api/gpu/nodes").json()["nodes"][0]["status"] == "ok"


def test_a_bad_inventory_path_is_reported_not_a_500(tmp_path: Path) -> None:
    client = TestClient(standalone_app(DashboardSource(records_dir=tmp_path, inventory_path=tmp_path / "missing.json")))
    view = client.get("/api/gpu/nodes").json()
    assert view["nodes"] == [] and "missing.json" in view["problems"][0]


def test_live_api_failures_are_reported_and_not_retried_on_every_poll(tmp_path: Path) -> None:
    source = DashboardSource(records_dir=tmp_path, use_api=True, kubeconfig=str(tmp_path / "no-kubeconfig"))
    client = TestClient(standalone_app(source))
    first = client.get("/api/gpu/nodes").json()
    assert first["nodes"] == [] and "no usable Kubernetes credentials" in first["problems"][0]
    cached_at = source._api_cache[0]
    assert client.get("/api/gpu/nodes").json()["problems"] == first["problems"] and source._api_cache[0] == cached_at


def test_an_unconfigured_app_reads_the_data_homes_harvest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETRAINER_HOME", str(tmp_path))
    record = make_record("gpu", "2026-11-29T04:00:00Z", "agent", "GPU 0", node="from-home", metrics={UTIL: 1}, labels={"gpu": 0})
    write_jsonl(tmp_path / "harvest" / "gpu.jsonl", [record])
    app = FastAPI()
    app.include_router(router)
    assert [row["name"] for row in TestClient(app).get("/api/gpu/nodes").json()["nodes"]] == ["from-home"]


def test_cli_rejects_bad_options_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kubetrainer.cli import main

    assert main(["--home", str(tmp_path), "dashboard", "--from", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such file or directory" in " ".join(capsys.readouterr().err.split())
    assert main(["--home", str(tmp_path), "dashboard", "--demo", "--records", str(tmp_path)]) == 2
    assert "--demo shows generated data" in " ".join(capsys.readouterr().err.split())
    assert main(["--home", str(tmp_path), "dashboard", "--from", str(tmp_path), "--api"]) == 2
    assert "two inventory sources" in " ".join(capsys.readouterr().err.split())


def test_serve_picks_the_inventory_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetrainer.config import Settings
    from kubetrainer.serve.dashboard import INVENTORY_ENV

    settings = Settings(home=tmp_path)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv(INVENTORY_ENV, str(tmp_path / "dump"))
    source = DashboardSource.from_settings(settings)
    assert (source.inventory_path, source.use_api, source.records_dir) == (tmp_path / "dump", False, tmp_path / "harvest")
    monkeypatch.setenv(INVENTORY_ENV, "api")
    assert DashboardSource.from_settings(settings).use_api is True
    monkeypatch.delenv(INVENTORY_ENV)
    assert DashboardSource.from_settings(settings).use_api is False
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert DashboardSource.from_settings(settings).use_api is True
