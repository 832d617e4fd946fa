"""`kubetrainer mcp` over stdio, driven by the official MCP SDK's own client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from kubetrainer.records import make_record, write_jsonl
from kubetrainer.samples.nodes import sample_nodes
from kubetrainer.serve.mcp_server import object_records
from tests.serve.servers import REPO, free_port


def incident_records() -> list[dict[str, Any]]:
    return [
        make_record("event", "2026-03-01T10:00:05Z", "api", "BackOff: Back-off restarting failed container trainer",
                    namespace="ml", pod="trainer-0"),
        make_record("log", "2026-03-01T10:00:01Z", "agent", "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
                    namespace="ml", pod="trainer-0", container="trainer", node="gpu-h100-0", stream="stderr"),
        make_record("event", "2026-03-01T09:00:00Z", "api", "Scheduled: assigned web/frontend-1 to cpu-0",
                    namespace="web", pod="frontend-1"),
        make_record("log", "2026-03-01T09:00:02Z", "agent", "GET /healthz 200", namespace="web", pod="frontend-1",
                    container="nginx", node="cpu-0", stream="stdout"),
    ]


def test_object_records_filters_and_orders() -> None:
    records = incident_records()
    found = object_records(records, "ml", "trainer-0", ("event", "log"), limit=10)
    assert [record["kind"] for record in found] == ["log", "event"]
    assert object_records(records, "ml", "trainer-0", ("event",), limit=10)[0]["kind"] == "event"
    assert object_records(records, "web", "frontend-1", ("event", "log"), limit=1)[0]["message"] == "GET /healthz 200"


@pytest.fixture(scope="module")
def mcp_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kubetrainer.rag.embed import Embedder
    from kubetrainer.rag.index import build_index

    home = tmp_path_factory.mktemp("mcp-home")
    write_jsonl(home / "harvest" / "agent.jsonl", incident_records())
    build_index(home / "index" / "main", incident_records(), Embedder(cache_dir=home / "cache"))
    (home / "nodes.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": sample_nodes()}))
    return home


def call(result: Any) -> Any:
    """A tool's value: its structured content when the SDK made one, else its JSON text."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


def test_mcp_tools_over_stdio(mcp_home: Path, tiny_model_dir: Path) -> None:
    params = StdioServerParameters(command=sys.executable, cwd=str(REPO), args=[
        "-c", "from kubetrainer.cli import run; run()", "--home", str(mcp_home), "mcp",
        "--rag", str(mcp_home / "index" / "main"), "--model", str(tiny_model_dir),
        "--from", str(mcp_home / "nodes.json")])

    async def session() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=300) as client:
            tools = sorted(tool.name for tool in (await client.list_tools()).tools)
            return {
                "tools": tools,
                "events": call(await client.call_tool("object_events", {"namespace": "ml", "name": "trainer-0"})),
                "no_logs": call(await client.call_tool("object_events", {"namespace": "ml", "name": "trainer-0",
                                                                         "include_logs": False})),
                "gpus": call(await client.call_tool("gpu_inventory", {})),
                "search": call(await client.call_tool("search_index", {"query": "CUDA out of memory", "top_k": 2})),
                "filtered": call(await client.call_tool("search_index", {"query": "request", "namespace": "web"})),
                "ask": call(await client.call_tool("ask", {"question": "Why did trainer-0 crash?", "top_k": 2})),
            }

    got = asyncio.run(session())
    assert got["tools"] == ["ask", "gpu_inventory", "object_events", "search_index"]
    assert [record["kind"] for record in got["events"]] == ["log", "event"]
    assert [record["kind"] for record in got["no_logs"]] == ["event"]
    names = {node["name"] for node in got["gpus"]["nodes"]}
    assert {"gpu-h100-0", "gke-l4-pool-0"} <= names and got["gpus"]["summary"]
    assert "CUDA out of memory" in got["search"][0]["text"]
    assert all(hit["source"]["namespace"] == "web" for hit in got["filtered"])
    assert got["ask"]["sources"] and "\n\nSources:\n[1] " in got["ask"]["answer"]


def test_mcp_over_streamable_http(mcp_home: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", "from kubetrainer.cli import run; run()", "--home",
                                str(mcp_home), "mcp", "--transport", "http", "--port", str(port)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def session() -> list[dict]:
        for _ in range(600):
            try:
                async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                    return call(await client.call_tool("object_events", {"namespace": "web", "name": "frontend-1"}))
            except Exception:  # not listening yet
                await asyncio.sleep(0.2)
        raise AssertionError("the MCP HTTP server never answered")

    try:
        events = asyncio.run(session())
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert [record["message"] for record in events] == ["Scheduled: assigned web/frontend-1 to cpu-0", "GET /healthz 200"]
