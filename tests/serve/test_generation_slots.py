"""Generation slots and seeds over real HTTP (uvicorn in-process): a client that hangs up frees its slot at once,
and a seed gives the same text whether or not another request generates beside it."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig
from tests.serve.servers import serving

LONG_CONTEXT = 8192


@pytest.fixture(scope="module")
def long_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with room for thousands of new tokens (rotary positions extend): a long answer to abandon."""
    path = tmp_path_factory.mktemp("models") / "tiny-llama-long"
    shutil.copytree(tiny_model_dir, path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "max_position_embeddings": LONG_CONTEXT}))
    return path


def ask(base_url: str, timeout: float, **body: object) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", timeout=timeout, json={
        "model": "tiny-llama-long", "messages": [{"role": "user", "content": "Why is my pod pending?"}], **body})


@pytest.fixture(scope="module")
def one_slot(long_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    app = create_app(ServeConfig(home=tmp_path_factory.mktemp("home"), model=str(long_model_dir), max_concurrency=1,
                                 timeout_s=60, max_new_tokens_limit=LONG_CONTEXT, cache_entries=0))
    with serving(app) as base_url:
        yield base_url, app.state.serve


def test_a_client_that_hangs_up_frees_its_slot_at_once(one_slot: tuple[str, object]) -> None:
    base_url, state = one_slot
    with pytest.raises(httpx.ReadTimeout):  # httpx closes the connection: the client has gone
        ask(base_url, 1.5, max_tokens=LONG_CONTEXT - 100, temperature=0)
    started = time.monotonic()
    second = ask(base_url, 60, max_tokens=2, temperature=0)
    assert second.status_code == 200, second.text
    assert time.monotonic() - started < 10  # not the 60 s the abandoned answer would have held the slot
    assert state.gate.running == 0
    assert 'kubetrainer_errors_total{type="client_closed"} 1.0' in httpx.get(f"{base_url}/metrics").text


@pytest.fixture(scope="module")
def two_slots(long_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(ServeConfig(home=tmp_path_factory.mktemp("home"), model=str(long_model_dir), max_concurrency=2,
                                 cache_entries=0))  # every answer generated, none replayed
    with serving(app) as base_url:
        yield base_url


def test_a_seed_gives_the_same_text_beside_another_request(two_slots: str) -> None:
    def text(**body: object) -> str:
        response = ask(two_slots, 120, **body)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    seeded = {"max_tokens": 24, "temperature": 1.0, "top_p": 0.9, "seed": 7}
    alone = text(**seeded)
    beside = threading.Thread(target=text, kwargs={"max_tokens": 400, "temperature": 1.0})
    beside.start()
    time.sleep(0.5)  # the other request is generating
    concurrent = text(**seeded)
    assert beside.is_alive()
    beside.join()
    assert concurrent == alone
    assert text(**{**seeded, "seed": 8}) != alone
