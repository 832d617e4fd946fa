"""The app in-process (TestClient) with a tiny random Llama: routes, shapes, errors, limits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from kubetrainer.generation.params import SamplingParams
from kubetrainer.serve.app import create_app
from kubetrainer.serve.config import ServeConfig

KEY = "k" * 32


def make_client(home: Path, model_dir: Path, **options: object) -> TestClient:
    return TestClient(create_app(ServeConfig(home=home, model=str(model_dir), **options)))


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return make_client(tmp_path_factory.mktemp("home"), tiny_model_dir, adapters=(tiny_adapter_dir,))


def chat(client: TestClient, **body: object):
    return client.post("/v1/chat/completions", json={"model": "tiny-llama", "messages": [
        {"role": "user", "content": "Why is my pod pending?"}], **body})


def sse_events(text: str) -> list[str]:
    return [line[len("data: "):] for line in text.split("\n\n") if line.startswith("data: ")]


def test_models_lists_base_adapter_and_embedder(client: TestClient) -> None:
    ids = [item["id"] for item in client.get("/v1/models").json()["data"]]
    assert ids == ["tiny-llama", "ops-lora", "sentence-transformers/all-MiniLM-L6-v2"]


def test_chat_shape_usage_and_cache(client: TestClient) -> None:
    first = chat(client, max_tokens=6, temperature=0)
    body = first.json()
    assert first.status_code == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant" and body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] == 6 and body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 6
    assert first.headers["x-kubetrainer-cache"] == "miss"
    second = chat(client, max_tokens=6, temperature=0)
    assert second.headers["x-kubetrainer-cache"] == "hit" and second.json() == body
    sampled = chat(client, max_tokens=2, temperature=0.7)
    assert sampled.headers["x-kubetrainer-cache"] == "off"


def test_adapter_changes_the_answer(client: TestClient) -> None:
    base = chat(client, max_tokens=8, temperature=0).json()["choices"][0]["message"]["content"]
    tuned = client.post("/v1/chat/completions", json={
        "model": "ops-lora", "max_tokens": 8, "temperature": 0,
        "messages": [{"role": "user", "content": "Why is my pod pending?"}]}).json()
    assert tuned["model"] == "ops-lora" and tuned["choices"][0]["message"]["content"] != base


def test_stream_chunks_match_the_openai_format(client: TestClient) -> None:
    whole = chat(client, max_tokens=6, temperature=0).json()["choices"][0]["message"]["content"]
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "tiny-llama", "messages": [{"role": "user", "content": "Why is my pod pending?"}],
            "max_tokens": 6, "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks if chunk["choices"])
    assert text == whole
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 6


def test_stop_sequence_is_never_emitted(client: TestClient) -> None:
    whole = chat(client, max_tokens=8, temperature=0).json()["choices"][0]["message"]["content"]
    stop = whole.split()[2]
    cut = chat(client, max_tokens=8, temperature=0, stop=[stop]).json()["choices"][0]
    assert stop not in cut["message"]["content"] and cut["finish_reason"] == "stop"
    assert whole.startswith(cut["message"]["content"])


def test_completion_logprobs_are_the_models_log_softmax(client: TestClient) -> None:
    prompt = "kubectl describe pod"
    body = client.post("/v1/completions", json={"model": "tiny-llama", "prompt": prompt, "max_tokens": 0,
                                                "echo": True, "logprobs": 2}).json()
    choice = body["choices"][0]
    assert choice["text"] == prompt and body["usage"]["completion_tokens"] == 0
    logprobs = choice["logprobs"]
    assert logprobs["token_logprobs"][0] is None and "".join(logprobs["tokens"]) == prompt
    lm = client.app.state.serve.lm
    ids = lm.engine.encode(prompt)
    with torch.no_grad(), lm.model.disable_adapter():  # the base model, not the loaded LoRA
        expected = torch.log_softmax(lm.model(torch.tensor([ids])).logits[0], dim=-1)
    for position, token_id in enumerate(ids[1:], start=1):
        assert logprobs["token_logprobs"][position] == pytest.approx(float(expected[position - 1, token_id]), abs=1e-4)
        assert len(logprobs["top_logprobs"][position]) <= 2
    assert logprobs["text_offset"][1] == len(logprobs["tokens"][0])


def test_completion_generates_with_logprobs_and_batches_prompts(client: TestClient) -> None:
    body = client.post("/v1/completions", json={"model": "tiny-llama", "prompt": ["a", "b"], "max_tokens": 3,
                                                "temperature": 0, "logprobs": 1}).json()
    assert [choice["index"] for choice in body["choices"]] == [0, 1]
    for choice in body["choices"]:
        assert len(choice["logprobs"]["tokens"]) == 3
        assert all(value <= 0 for value in choice["logprobs"]["token_logprobs"])
    assert body["usage"]["completion_tokens"] == 6


def test_completion_stream_and_token_prompts(client: TestClient) -> None:
    with client.stream("POST", "/v1/completions", json={"model": "tiny-llama", "prompt": [1, 2, 3],
                                                        "max_tokens": 4, "stream": True}) as response:
        events = sse_events(response.read().decode())
    assert events[-1] == "[DONE]" and json.loads(events[-2])["choices"][0]["finish_reason"] == "length"
    bad = client.post("/v1/completions", json={"model": "tiny-llama", "prompt": [10**9]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt"


@pytest.mark.parametrize(("body", "param"), [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
    ({"logit_bias": {"1": 5}}, "logit_bias"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"temperature": 5}, "temperature"),
    ({"frequency_penalty": 2.5}, "frequency_penalty"),
    ({"messages": []}, "messages"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])
def test_unsupported_and_invalid_get_the_openai_error_shape(client: TestClient, body: dict, param: str) -> None:
    response = chat(client, max_tokens=2, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_unknown_model_and_context_overflow(client: TestClient) -> None:
    unknown = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    long = chat(client, messages=[{"role": "user", "content": "word " * 600}])
    assert long.status_code == 400 and long.json()["error"]["code"] == "context_length_exceeded"
    not_json = client.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "error" in not_json.json()


def test_body_size_limit(tiny_model_dir: Path, tmp_path: Path) -> None:
    small = make_client(tmp_path, tiny_model_dir, max_body_bytes=512)
    response = small.post("/v1/chat/completions", json={"model": "tiny-llama", "messages": [
        {"role": "user", "content": "x" * 1000}]})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_api_keys_guard_the_api_but_not_the_probes(tiny_model_dir: Path, tmp_path: Path) -> None:
    guarded = make_client(tmp_path, tiny_model_dir, api_keys=frozenset({KEY}))
    assert guarded.get("/v1/models").status_code == 401
    assert guarded.get("/v1/models", headers={"Authorization": "Bearer wrong-key-wrong-key"}).json()["error"][
        "code"] == "invalid_api_key"
    assert guarded.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert guarded.get("/healthz").status_code == 200 and guarded.get("/readyz").status_code == 200


def test_full_queue_gets_429_and_slow_request_504(tiny_model_dir: Path, tmp_path: Path) -> None:
    busy = make_client(tmp_path, tiny_model_dir, max_concurrency=1, max_queue=0)
    gate = busy.app.state.serve.gate
    gate.running = 1  # every slot taken by a request in flight
    response = chat(busy, max_tokens=2)
    gate.running = 0
    assert response.status_code == 429 and response.json()["error"]["code"] == "queue_full"
    slow = make_client(tmp_path, tiny_model_dir, timeout_s=0.01)
    response = chat(slow, max_tokens=400, temperature=0)
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"


def test_metrics_expose_latency_ttft_tokens_cache_and_errors(client: TestClient) -> None:
    chat(client, max_tokens=3, temperature=0, seed=7)
    chat(client, max_tokens=3, temperature=0, seed=7)
    with client.stream("POST", "/v1/chat/completions", json={
            "model": "tiny-llama", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": True}) as r:
        r.read()
    chat(client, n=3)
    text = client.get("/metrics").text
    for name in ("kubetrainer_request_latency_seconds_bucket", "kubetrainer_time_to_first_token_seconds_count",
                 "kubetrainer_generation_tokens_per_second_count", "kubetrainer_queue_depth"):
        assert name in text
    assert 'kubetrainer_cache_requests_total{cache="answer",result="hit"}' in text
    assert 'kubetrainer_errors_total{type="unsupported_parameter"}' in text
    assert 'route="/v1/chat/completions",status="200"' in text


def test_gate_waits_for_a_slot_then_times_out(client: TestClient) -> None:
    from kubetrainer.serve.errors import APIError
    from kubetrainer.serve.limits import Gate
    from kubetrainer.serve.metrics import ServeMetrics

    async def scenario() -> str:
        gate = Gate(slots=1, max_queue=4, wait_s=0.05, metrics=ServeMetrics())
        async with gate.slot():
            try:
                async with gate.slot():
                    return "got a second slot"
            except APIError as error:
                return error.code or ""

    assert asyncio.run(scenario()) == "queue_timeout"


def test_max_tokens_beyond_the_context_or_the_limit_is_refused(client: TestClient) -> None:
    """Asked for more than the model holds, the answer is OpenAI's 400, not a shorter text; unasked, it fits."""
    beyond = chat(client, max_tokens=600)  # the tiny Llama holds 512 tokens
    error = beyond.json()["error"]
    assert beyond.status_code == 400 and (error["code"], error["param"]) == ("context_length_exceeded", "max_tokens")
    assert "maximum context length is 512 tokens" in error["message"]
    over_limit = chat(client, max_completion_tokens=5000)
    assert over_limit.status_code == 400 and over_limit.json()["error"]["param"] == "max_completion_tokens"
    completion = client.post("/v1/completions", json={"model": "tiny-llama", "prompt": "kubectl", "max_tokens": 600})
    assert completion.status_code == 400 and completion.json()["error"]["code"] == "context_length_exceeded"
    unasked = chat(client, messages=[{"role": "user", "content": "word " * 400}], temperature=0)
    assert unasked.status_code == 200 and unasked.json()["usage"]["total_tokens"] <= 512


def test_a_seeded_answer_is_cached_as_its_seed_generates_it(client: TestClient) -> None:
    first, second = (chat(client, max_tokens=8, temperature=0.8, seed=11) for _ in range(2))
    assert (first.headers["x-kubetrainer-cache"], second.headers["x-kubetrainer-cache"]) == ("miss", "hit")
    lm = client.app.state.serve.lm
    ids = lm.engine.chat_ids([{"role": "user", "content": "Why is my pod pending?"}])
    params = SamplingParams(8, temperature=0.8, seed=11)
    fresh = lm.engine.generate(ids, params, adapter=lm.adapter_for("tiny-llama"))
    assert second.json()["choices"][0]["message"]["content"] == fresh.text


def test_openai_penalties_are_the_requests_own(client: TestClient) -> None:
    """frequency_penalty and presence_penalty reach the engine as sent (negative ones make this model repeat itself)."""
    messages = [{"role": "user", "content": "Why is my pod pending?"}]
    penalised = chat(client, max_tokens=12, temperature=0, frequency_penalty=-1.0, presence_penalty=-2.0)
    assert penalised.status_code == 200
    lm = client.app.state.serve.lm
    params = SamplingParams(12, temperature=0, frequency_penalty=-1.0, presence_penalty=-2.0)
    expected = lm.engine.generate(lm.engine.chat_ids(messages), params, adapter=lm.adapter_for("tiny-llama"))
    plain = chat(client, max_tokens=12, temperature=0).json()["choices"][0]["message"]["content"]
    assert penalised.json()["choices"][0]["message"]["content"] == expected.text != plain
