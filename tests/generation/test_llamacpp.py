"""The llama.cpp engine on the bundled SmolLM2 GGUF (real model, CPU), alone and behind the server.

llama-cpp-python is a wheel built from its sdist (`make setup-test`, scripts/setup.d/06-llama-cpp.sh, in the
background); these tests run after the others and first wait for it (the `llama_cpp` fixture, tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from kubetrainer.generation import chat
from kubetrainer.generation.engine import UnknownAdapter
from kubetrainer.generation.params import SamplingParams, answer_params

CACHE = Path(os.environ.get("KUBETRAINER_CACHE", Path.home() / ".cache" / "kubetrainer"))

QUESTION = [{"role": "user", "content": "What is a Kubernetes pod?"}]
ADMIN = "admin-" + "4dm1n" * 6


@pytest.fixture(scope="module")
def gguf_parts(llama_cpp) -> tuple[Path, object]:
    from kubetrainer.generation.engines import find_gguf, gguf_tokenizer

    gguf = find_gguf(None)
    assert gguf is not None
    return gguf, gguf_tokenizer(None, gguf, CACHE / "test-models")


@pytest.fixture(scope="module")
def engine(gguf_parts):
    from kubetrainer.generation.llamacpp import LlamaCppEngine

    gguf, tokenizer = gguf_parts
    return LlamaCppEngine.load(gguf, tokenizer)


def greedy(tokens: int, **options) -> SamplingParams:
    return SamplingParams(max_new_tokens=tokens, temperature=0.0, **options)


def test_prompt_ids_and_token_counts_agree_with_the_transformers_tokenizer(engine, gguf_parts) -> None:
    _, tokenizer = gguf_parts
    ids = engine.chat_ids(QUESTION)
    assert ids == chat.chat_ids(tokenizer, QUESTION)  # our rendering, the GGUF's vocabulary: the same ids
    assert engine.decode(ids) == chat.render(tokenizer, QUESTION)
    text = "kubectl get pods -n kube-system shows CrashLoopBackOff"
    assert engine.encode(text) == tokenizer(text)["input_ids"]
    assert engine.count_tokens(text) == len(tokenizer(text)["input_ids"])
    assert engine.context_length == 8192 and engine.vocab_size == len(tokenizer)
    assert engine.generate(ids, greedy(1)).prompt_tokens == len(ids)


def test_greedy_is_deterministic_and_stops_at_max_tokens(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    first, second = engine.generate(ids, greedy(8)), engine.generate(ids, greedy(8))
    assert first.text == second.text and first.text.strip()
    assert (first.completion_tokens, first.finish_reason) == (8, "length")
    assert engine.count_tokens(first.text) == 8


def test_seeded_sampling_repeats_and_the_answer_guard_runs(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    sampled = [engine.generate(ids, SamplingParams(max_new_tokens=8, temperature=0.9, top_p=0.9, seed=7)).text
               for _ in range(2)]
    assert sampled[0] == sampled[1]
    guarded = engine.generate(ids, answer_params(8, frequency_penalty=0.5, presence_penalty=0.5))
    assert guarded.completion_tokens == 8


def test_a_stop_sequence_ends_the_text(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    full = engine.generate(ids, greedy(12)).text
    stop = full.split()[2]  # a word in the middle of the greedy answer
    result = engine.generate(ids, greedy(12, stop=(stop,)))
    assert result.text == full[: full.index(stop)] and result.finish_reason == "stop"
    assert stop not in "".join(engine.stream(ids, greedy(12, stop=(stop,))))


def test_streaming_yields_the_same_text_as_generate(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    whole = engine.generate(ids, greedy(10))
    stream = engine.stream(ids, greedy(10))
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == whole.text
    assert (stream.prompt_tokens, stream.completion_tokens, stream.finish_reason) == (len(ids), 10, "length")


def test_cancellation_stops_between_two_tokens(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    cancel = threading.Event()
    cancel.set()
    assert engine.generate(ids, greedy(32), cancel=cancel).completion_tokens == 1
    cancel = threading.Event()
    stream = engine.stream(ids, greedy(64), cancel=cancel)
    for _ in stream:
        cancel.set()
    assert stream.completion_tokens < 8 and stream.finish_reason == "length"
    assert engine.generate(ids, greedy(3)).completion_tokens == 3  # the engine serves the next request


def test_log_probabilities(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    result = engine.generate(ids, greedy(3, top_logprobs=2))
    assert result.logprobs is not None and len(result.logprobs) == 3
    for scored in result.logprobs:
        assert scored.top[0] == (scored.token, pytest.approx(scored.logprob)) and scored.logprob <= 0
    prompt = engine.prompt_logprobs(ids[:6], 1)
    assert len(prompt) == 6 and all(p.logprob <= 0 for p in prompt[1:])


def test_an_adapter_the_engine_does_not_hold_is_refused(engine) -> None:
    with pytest.raises(UnknownAdapter, match="no adapter 'ops-lora' is loaded"):
        engine.generate(engine.chat_ids(QUESTION), greedy(2), adapter="ops-lora")
    stream = engine.stream(engine.chat_ids(QUESTION), greedy(2), adapter="ops-lora")
    with pytest.raises(UnknownAdapter, match="loaded: none"):
        list(stream)


def test_the_engine_is_chosen_in_one_place(llama_cpp, bundled_adapter: Path, tmp_path: Path) -> None:
    from kubetrainer.errors import UserError
    from kubetrainer.generation.engines import choose_engine

    assert choose_engine("auto", None)[0] == "llamacpp"  # installed, a GGUF, no GPU here
    assert choose_engine("auto", None, adapters=(bundled_adapter,))[0] == "llamacpp"  # plain LoRA: llama.cpp applies it
    assert choose_engine("auto", None, adapters=(tmp_path,)) == ("transformers", None)  # not an adapter it can apply
    assert choose_engine("transformers", None) == ("transformers", None)
    assert choose_engine("auto", str(tmp_path)) == ("transformers", None)  # no GGUF in it
    with pytest.raises(UserError, match="no GGUF"):
        choose_engine("llamacpp", str(tmp_path))
    with pytest.raises(UserError, match="unknown engine"):
        choose_engine("vllm-ish", None)


def test_serve_help_names_the_engine_option(capsys: pytest.CaptureFixture[str]) -> None:
    from kubetrainer.cli import main

    main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--engine" in out and "llamacpp" in out


@pytest.fixture(scope="module")
def bundled_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the bundled SmolLM2 (attention; random, non-zero, scaled up so that it changes greedy
    answers), saved as a training run saves one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from kubetrainer.models.bundled import ensure_default_llm

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(ensure_default_llm(CACHE / "test-models"), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=128, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                        init_lora_weights=False)
    adapter = tmp_path_factory.mktemp("runs") / "ops-lora"
    get_peft_model(base, config).save_pretrained(adapter)
    return adapter


@pytest.fixture(scope="module")
def served(gguf_parts, bundled_adapter: Path, tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    from kubetrainer.serve.app import create_app
    from kubetrainer.serve.config import ServeConfig

    home = tmp_path_factory.mktemp("home")
    return TestClient(create_app(ServeConfig(home=home, engine="llamacpp", adapters=(bundled_adapter,),
                                             admin_keys=frozenset({ADMIN}))))


def answers(served, model: str, tokens: int = 6) -> str:
    body = {"model": model, "messages": QUESTION, "max_tokens": tokens, "temperature": 0}
    reply = served.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["choices"][0]["message"]["content"]


def test_the_server_answers_with_llamacpp_and_names_it(served, engine) -> None:
    models = {entry["id"]: entry for entry in served.get("/v1/models").json()["data"]}
    base = "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert models[base]["engine"] == "llamacpp" and models["ops-lora"]["engine"] == "llamacpp"
    body = {"model": base, "messages": QUESTION, "max_tokens": 6, "temperature": 0}
    reply = served.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    expected = engine.generate(engine.chat_ids(QUESTION), greedy(6)).text
    assert answer["choices"][0]["message"]["content"] == expected
    assert answer["usage"]["completion_tokens"] == 6 and answer["usage"]["prompt_tokens"] == len(engine.chat_ids(QUESTION))
    with served.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as streamed:
        events = [json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: {")]
    assert "".join(event["choices"][0]["delta"].get("content", "") for event in events if event["choices"]) == expected


def test_an_adapter_is_applied_per_request_with_llamacpp(served) -> None:
    lm = served.app.state.serve.lm
    ids = lm.engine.chat_ids(QUESTION)
    base, tuned = (lm.engine.generate(ids, greedy(6), adapter=name).text for name in (None, "ops-lora"))
    assert tuned != base
    assert answers(served, "ops-lora") == tuned and answers(served, lm.model_id) == base
    assert answers(served, "ops-lora") == tuned  # back again: nothing of the base's cache reused


def test_adapters_are_added_and_removed_at_run_time_with_llamacpp(served, bundled_adapter: Path, tmp_path) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    lm = served.app.state.serve.lm
    added = served.post("/v1/adapters", json={"name": "late", "path": str(bundled_adapter)}, headers=admin)
    assert added.status_code == 201 and added.json()["engine"] == "llamacpp", added.text
    assert answers(served, "late") == answers(served, "ops-lora")  # the same weights under another name

    assert served.delete("/v1/adapters/late", headers=admin).status_code == 200
    gone = served.post("/v1/chat/completions", json={"model": "late", "messages": QUESTION, "max_tokens": 2})
    assert gone.status_code == 404 and lm.adapters == ("ops-lora",)

    dora = tmp_path / "dora"
    dora.mkdir()
    for file in bundled_adapter.iterdir():
        (dora / file.name).write_bytes(file.read_bytes())
    config = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    refused = served.post("/v1/adapters", json={"name": "dora", "path": str(dora)}, headers=admin)
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["param"] == "path" and "DoRA" in error["message"], refused.text
    assert lm.adapters == ("ops-lora",)


def test_the_openai_client_talks_to_the_llamacpp_engine(served, engine) -> None:
    import openai

    client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=served, max_retries=0)
    base = "HuggingFaceTB/SmolLM2-135M-Instruct"
    expected = engine.generate(engine.chat_ids(QUESTION), greedy(5)).text
    reply = client.chat.completions.create(model=base, messages=QUESTION, max_tokens=5, temperature=0)
    assert reply.choices[0].message.content == expected and reply.choices[0].finish_reason == "length"
    chunks = client.chat.completions.create(model=base, messages=QUESTION, max_tokens=5, temperature=0, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == expected
    tuned = client.chat.completions.create(model="ops-lora", messages=QUESTION, max_tokens=5, temperature=0)
    assert tuned.choices[0].message.content == answers(served, "ops-lora", 5) != expected
