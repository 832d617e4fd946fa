"""MCP tools are read-only unless --allow-writes, every call is logged (without argument values),
and records come back without server file paths."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from kubetrainer.records import iter_jsonl, make_record, write_jsonl
from kubetrainer.serve.mcp_server import McpConfig, build_server


def _tools(config: McpConfig) -> dict[str, Any]:
    return {tool.name: tool for tool in asyncio.run(build_server(config).list_tools())}


def _value(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


def test_read_only_by_default_and_writes_only_when_allowed(tmp_path: Path) -> None:
    default = _tools(McpConfig(home=tmp_path))
    assert set(default) == {"search_index", "ask", "gpu_inventory", "object_events"}
    assert all(tool.annotations.read_only_hint for tool in default.values())
    writable = _tools(McpConfig(home=tmp_path, allow_writes=True))
    assert set(writable) == set(default) | {"ingest_records"}
    assert writable["ingest_records"].annotations.read_only_hint is False


def test_calls_are_logged_without_values_and_records_without_paths(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    log_path = "/srv/kubetrainer/private/trainer.log"
    write_jsonl(tmp_path / "harvest" / "files.jsonl", [make_record(
        "log", "2026-03-01T10:00:01Z", "file", "CUDA out of memory", namespace="ml", pod="trainer-0",
        labels={"path": log_path})])
    server = build_server(McpConfig(home=tmp_path, allow_writes=True))
    secret = "password=Tr0ub4dor-and-more"
    line = json.dumps(make_record("log", "2026-03-01T10:00:02Z", "agent", secret, namespace="ml", pod="trainer-0"))
    with caplog.at_level(logging.INFO, logger="kubetrainer.mcp.audit"):
        found = _value(asyncio.run(server.call_tool("object_events", {"namespace": "ml", "name": "trainer-0"})))
        stored = _value(asyncio.run(server.call_tool("ingest_records", {"ndjson": line})))
    assert [record["labels"]["path"] for record in found] == ["trainer.log"]
    assert stored["accepted"] == 1 and stored["redactions"] == 1
    messages = [record.getMessage() for record in caplog.records if record.name == "kubetrainer.mcp.audit"]
    assert len(messages) == 2
    assert messages[0].startswith("mcp tool object_events(namespace:str[2], name:str[9], include_logs:bool, limit:int) ok")
    assert messages[1].startswith("mcp tool ingest_records(ndjson:str[") and " ok in " in messages[1]
    assert "Tr0ub4dor" not in caplog.text and "trainer-0" not in caplog.text
    kept = [record for path in (tmp_path / "harvest" / "ingest").glob("*.jsonl") for record in iter_jsonl(path)]
    assert [record["message"] for record in kept] == ["password=[REDACTED:secret_pair]"]
