"""The pure parts of serve: cache, config checks, citations, ingest checks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kubetrainer.errors import UserError
from kubetrainer.records import make_record
from kubetrainer.serve.cache import LruCache, content_key
from kubetrainer.serve.config import ServeConfig, is_loopback, read_api_keys
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.ingest import check_lines, decode_body
from kubetrainer.serve.registry import adapter_name
from kubetrainer.serve.retrieval import citation_footer


def test_lru_evicts_least_recently_used() -> None:
    cache = LruCache(max_entries=2)
    cache.set("a", b"1")
    cache.set("b", b"2")
    assert cache.get("a") == b"1"
    cache.set("c", b"3")
    assert cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"


def test_content_key_is_canonical() -> None:
    assert content_key("answer", {"a": 1, "b": 2}) == content_key("answer", {"b": 2, "a": 1})
    assert content_key("answer", {"a": 1}) != content_key("embedding", {"a": 1})


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                 ("0.0.0.0", False), ("10.1.2.3", False), ("example.org", False)])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_needs_keys(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="without API keys"):
        ServeConfig(home=tmp_path, host="0.0.0.0").validate()
    ServeConfig(home=tmp_path, host="0.0.0.0", api_keys=frozenset({"k" * 32})).validate()


def test_api_key_file_rules(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# ops team\n" + "a" * 32 + "\n\n")
    assert read_api_keys(keys) == frozenset({"a" * 32})
    keys.write_text("short\n")
    with pytest.raises(UserError, match="shorter than 16"):
        read_api_keys(keys)
    with pytest.raises(UserError, match="cannot read"):
        read_api_keys(tmp_path / "missing")


def test_bad_options_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        ServeConfig(home=tmp_path, rag_index=tmp_path / "nope").validate()
    with pytest.raises(UserError, match="not a PEFT adapter"):
        ServeConfig(home=tmp_path, adapters=(tmp_path,)).validate()
    with pytest.raises(UserError, match="Redis URL"):
        ServeConfig(home=tmp_path, redis_url="localhost:6379").validate()
    with pytest.raises(UserError, match="max_concurrency"):
        ServeConfig(home=tmp_path, max_concurrency=0).validate()


def test_adapter_names_from_run_layout(tmp_path: Path) -> None:
    assert adapter_name(tmp_path / "runs" / "run-42" / "final") == "run-42"
    assert adapter_name(tmp_path / "runs" / "run-42" / "checkpoint-100") == "run-42-checkpoint-100"
    assert adapter_name(tmp_path / "ops-lora") == "ops-lora"


def test_citation_footer_numbers_sources() -> None:
    sources = [{"source": {"kind": "event", "namespace": "ml", "name": "trainer-0", "node": "gpu-1"}},
               {"source": {"kind": "log", "namespace": "ml", "name": "trainer-0", "container": "main"}}]
    footer = citation_footer(sources)
    assert footer.startswith("\n\nSources:\n")
    assert "[1] event ml/trainer-0, node gpu-1" in footer
    assert "[2] log ml/trainer-0, container main" in footer
    assert citation_footer([]) == ""


def _line(record: dict) -> bytes:
    return json.dumps(record).encode() + b"\n"


def test_ingest_check_validates_dedupes_and_redacts() -> None:
    good = make_record("log", "2026-01-01T00:00:00Z", "agent", "password=hunter2hunter2 in config", pod="p")
    other = make_record("event", "2026-01-01T00:00:01Z", "agent", "Back-off restarting failed container")
    seen_before = make_record("log", "2026-01-01T00:00:02Z", "agent", "already stored")
    data = (_line(good) + b"not json\n" + _line({**other, "kind": "bogus"}) + _line(other) + _line(other)
            + _line(seen_before))
    result = check_lines(data, seen={seen_before["id"]})
    assert [record["id"] for record in result.records] == [good["id"], other["id"]]
    assert result.duplicates == 2
    assert [item["line"] for item in result.rejected] == [2, 3]
    assert "kind" in result.rejected[1]["error"]
    assert "hunter2hunter2" not in json.dumps(result.records)
    assert result.redactions >= 1 and result.records[0]["redactions"] >= 1


def test_gzip_body_and_bomb_guard() -> None:
    payload = b'{"x": 1}\n' * 100
    assert decode_body(gzip.compress(payload), "gzip", max_bytes=10_000) == payload
    assert decode_body(payload, None, max_bytes=10) == payload  # plain bodies are limited by the middleware
    with pytest.raises(APIError) as error:
        decode_body(gzip.compress(b"0" * 1_000_000), "gzip", max_bytes=1000)
    assert error.value.status == 413
    with pytest.raises(APIError) as error:
        decode_body(b"\x1f\x8bnot gzip at all", "gzip", max_bytes=1000)
    assert error.value.status == 400
