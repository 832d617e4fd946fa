"""The OpenAPI spec fuzzed with schemathesis against the app in-process: no input gives a 5xx.

Bounded (a few examples per operation) so it stays a unit test; the tiny model keeps
each generation cheap, and `max_new_tokens_limit` caps what a fuzzed request may ask.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    home = tmp_path_factory.mktemp("fuzz-home")
    config = ServeConfig(home=home, model=str(tiny_model_dir), max_new_tokens_limit=8, timeout_s=30)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(config))


SERVED = {"/v1/embeddings": "all-MiniLM-L6-v2"}


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_input_gives_a_server_error(api_schema: schemathesis.BaseSchema, mode: schemathesis.GenerationMode) -> None:
    @given(case=api_schema.as_strategy(mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: schemathesis.Case) -> None:
        if mode is schemathesis.GenerationMode.POSITIVE and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = SERVED.get(case.path, "tiny-llama")  # reach generation, not only the 404
        response = case.call(timeout=300)  # generous: the CPU is shared; speed is bench/'s business
        assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
        if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}

    check()
