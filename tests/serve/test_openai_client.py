"""The real `openai` client against real `kubetrainer serve` processes (uvicorn on loopback).

The bundled SmolLM2 answers chat, streaming chat, completions with logprobs, and
MiniLM embeddings; two processes with tiny models share one real Redis cache; a
server with API keys refuses the wrong key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.serve.servers import ServerProcess

KEY = "s3rv3-t3st-k3y-0123456789abcdef"


@pytest.fixture(scope="module")
def bundled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`kubetrainer serve` with the embedded SmolLM2 (converted once into the build cache)."""
    from kubetrainer.models.bundled import ensure_default_llm

    cache = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))
    model_dir = ensure_default_llm(cache / "models")
    server = ServerProcess(["--model", str(model_dir)], tmp_path_factory.mktemp("home")).wait_ready()
    yield server
    server.stop()


def test_openai_client_speaks_to_the_bundled_model(bundled_server: ServerProcess) -> None:
    client = openai.OpenAI(base_url=f"{bundled_server.base_url}/v1", api_key="unused-on-loopback")
    model = client.models.list().data[0].id
    question = [{"role": "user", "content": "What is a Kubernetes pod? Answer in one sentence."}]

    answer = client.chat.completions.create(model=model, messages=question, max_tokens=24, temperature=0)
    assert answer.choices[0].message.content.strip()
    assert answer.usage.completion_tokens <= 24 and answer.usage.prompt_tokens > 10

    chunks = list(client.chat.completions.create(model=model, messages=question, max_tokens=24, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == answer.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == answer.usage.completion_tokens

    completion = client.completions.create(model=model, prompt="The capital of France is", max_tokens=4,
                                           temperature=0, echo=True, logprobs=2)
    logprobs = completion.choices[0].logprobs
    assert completion.choices[0].text.startswith("The capital of France is")
    assert logprobs.token_logprobs[0] is None and all(lp <= 0 for lp in logprobs.token_logprobs[1:])
    assert len(logprobs.tokens) == completion.usage.prompt_tokens + completion.usage.completion_tokens

    texts = ["pod stuck in CrashLoopBackOff", "container keeps restarting after a crash", "banana bread recipe"]
    vectors = np.array([item.embedding for item in client.embeddings.create(model="all-MiniLM-L6-v2", input=texts).data])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_two_processes_share_the_redis_cache_and_require_keys(
        tiny_model_dir: Path, redis_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n")
    args = ["--model", str(tiny_model_dir), "--redis", redis_url, "--api-key-file", str(keys)]
    first, second = ServerProcess(args, tmp_path), ServerProcess(args, tmp_path)
    try:
        first.wait_ready()
        second.wait_ready()
        request = {"model": "tiny-llama", "messages": [{"role": "user", "content": "Is node gpu-3 healthy?"}],
                   "max_tokens": 12, "temperature": 0}
        wrong = openai.OpenAI(base_url=f"{first.base_url}/v1", api_key="not-the-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(**request)

        answered = openai.OpenAI(base_url=f"{first.base_url}/v1", api_key=KEY).chat.completions.with_raw_response.create(**request)
        assert answered.headers["x-kubetrainer-cache"] == "miss"
        replayed = openai.OpenAI(base_url=f"{second.base_url}/v1", api_key=KEY).chat.completions.with_raw_response.create(**request)
        assert replayed.headers["x-kubetrainer-cache"] == "hit"
        assert replayed.parse().choices[0].message.content == answered.parse().choices[0].message.content
    finally:
        first.stop()
        second.stop()
