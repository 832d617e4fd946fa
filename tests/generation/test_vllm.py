"""The vLLM engine against a stand-in for vLLM's OpenAI server (tests/generation/vllm_standin.py).

vLLM needs a CUDA GPU and is not installed here, so the engine starts the stand-in, a real process
that speaks vLLM's protocol, through KUBETRAINER_VLLM_COMMAND; everything on our side is the real
code: the command line, the wait for /health, HTTP and SSE, the process-group stop, and behind
`kubetrainer serve --engine vllm` the real openai client. The stand-in generates deterministically
(the base: the prompt's ids reversed; an adapter: in order), so the text is asserted exactly.
bench/gpu/check_vllm.py runs the same path against a real vLLM on a GPU machine.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.generation import chat
from kubetrainer.generation.engine import BASE_ADAPTER, UnknownAdapter, Unsupported
from kubetrainer.generation.params import SamplingParams, answer_params
from kubetrainer.generation.vllm import VLLMEngine, model_tokenizer
from kubetrainer.generation.vllm_process import COMMAND_ENV
from kubetrainer.serve.config import ADMIN_KEY_ENV
from tests.serve.servers import ServerProcess

STANDIN = Path(__file__).with_name("vllm_standin.py")
ADMIN = "admin-" + "4dm1n" * 6
QUESTION = [{"role": "user", "content": "Why does the pod web-1 restart on node gpu-a?"}]


def standin(*options: str) -> str:
    """The KUBETRAINER_VLLM_COMMAND that runs the stand-in with these stand-in options before vLLM's."""
    return shlex.join([sys.executable, str(STANDIN), *options])


def make_adapter(root: Path, name: str, rank: int) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank,
                                                                "target_modules": ["q_proj", "v_proj"]}))
    return directory


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def greedy(tokens: int, **options) -> SamplingParams:
    return SamplingParams(max_new_tokens=tokens, temperature=0.0, **options)


@pytest.fixture(scope="module")
def tokenizer(bare_model_dir: Path):
    return model_tokenizer(bare_model_dir)


@pytest.fixture(scope="module")
def engine(bare_model_dir: Path, tokenizer, tmp_path_factory: pytest.TempPathFactory):
    adapter = make_adapter(tmp_path_factory.mktemp("adapters"), "ops-lora", 32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(COMMAND_ENV, standin("--token-delay", "0.01"))
        started = VLLMEngine.start(bare_model_dir, tokenizer, served_name="tiny-base", adapters={"ops-lora": adapter},
                                   start_timeout_s=60)
    yield started
    started.close()


def reversed_text(tokenizer, ids: list[int], count: int) -> str:
    """What the stand-in's base generates: the prompt's ids reversed."""
    return tokenizer.decode(ids[::-1][:count], skip_special_tokens=True)


def forward_text(tokenizer, ids: list[int], count: int) -> str:
    """What the stand-in's adapters generate: the prompt's ids in order."""
    return tokenizer.decode(ids[:count], skip_special_tokens=True)


def test_vllm_is_started_with_our_model_adapters_and_context(engine, tokenizer) -> None:
    assert engine.context_length == 512 and engine.vocab_size == len(tokenizer)  # max_model_len from /v1/models
    assert engine.chat_ids(QUESTION) == chat.chat_ids(tokenizer, QUESTION)
    listing = httpx.get(f"{engine.process.base_url}/v1/models").json()["data"]
    assert [entry["id"] for entry in listing] == ["tiny-base", "ops-lora"]
    assert Path(listing[1]["root"]).is_absolute()
    assert engine.count_tokens("pod web-1 restarts") == len(tokenizer("pod web-1 restarts")["input_ids"])


def test_generate_sends_token_ids_and_returns_the_exact_completion(engine, tokenizer) -> None:
    ids = engine.chat_ids(QUESTION)
    result = engine.generate(ids, greedy(5))
    assert result.text == reversed_text(tokenizer, ids, 5)
    assert (result.prompt_tokens, result.completion_tokens, result.finish_reason) == (len(ids), 5, "length")
    whole = engine.generate(ids, SamplingParams(max_new_tokens=len(ids) + 3, temperature=0.7, top_p=0.9, seed=3,
                                                frequency_penalty=0.1, presence_penalty=0.1, repetition_penalty=1.1))
    assert whole.text == reversed_text(tokenizer, ids, len(ids))
    assert (whole.completion_tokens, whole.finish_reason) == (len(ids) + 1, "stop")  # EOS counts, as vLLM counts it


def test_streaming_yields_the_same_text_as_generate(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    whole = engine.generate(ids, greedy(9))
    stream = engine.stream(ids, greedy(9))
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == whole.text
    assert (stream.prompt_tokens, stream.completion_tokens, stream.finish_reason) == (len(ids), 9, "length")


def test_a_stop_sequence_ends_the_text_without_leaking(engine) -> None:
    ids = engine.chat_ids(QUESTION)
    full = engine.generate(ids, greedy(14)).text
    stop = full.split()[2]
    result = engine.generate(ids, greedy(14, stop=(stop,)))
    assert result.text == full[: full.index(stop)] and result.finish_reason == "stop"
    stream = engine.stream(ids, greedy(14, stop=(stop,)))
    assert "".join(stream) == result.text and stream.finish_reason == "stop"


def test_log_probabilities_of_the_completion_and_the_prompt(engine, tokenizer) -> None:
    ids = engine.chat_ids(QUESTION)
    result = engine.generate(ids, greedy(3, top_logprobs=2))
    assert result.logprobs is not None and len(result.logprobs) == 3
    vocab = len(tokenizer)
    for index, (scored, token) in enumerate(zip(result.logprobs, ids[::-1])):
        value = -(index + 1) / 10
        assert (scored.token, scored.logprob) == (tokenizer.decode([token]), pytest.approx(value))
        assert scored.top == [(tokenizer.decode([token]), pytest.approx(value)),
                              (tokenizer.decode([(token + 1) % vocab]), pytest.approx(value - 1))]
    assert engine.generate(ids, greedy(2)).logprobs is None
    prompt = engine.prompt_logprobs(ids[:6], 1)
    assert len(prompt) == 6 and math.isnan(prompt[0].logprob) and prompt[0].token == tokenizer.decode(ids[:1])
    for index, scored in enumerate(prompt[1:], 1):
        assert (scored.token, scored.logprob) == (tokenizer.decode([ids[index]]), pytest.approx(-index / 10))
        assert scored.top == [(tokenizer.decode([ids[index]]), pytest.approx(-index / 10))]


def test_an_adapter_is_named_per_request(engine, tokenizer) -> None:
    ids = engine.chat_ids(QUESTION)
    assert engine.generate(ids, greedy(4), adapter="ops-lora").text == forward_text(tokenizer, ids, 4)
    assert engine.generate(ids, greedy(4), adapter=BASE_ADAPTER).text == reversed_text(tokenizer, ids, 4)
    with pytest.raises(Unsupported, match=r"\(404\): The model `nope` does not exist"):
        engine.generate(ids, greedy(2), adapter="nope")
    with pytest.raises(Unsupported, match="maximum context length is 512"):
        engine.generate(ids, greedy(600))


def test_the_answer_guard_is_refused_rather_than_dropped(engine) -> None:
    with pytest.raises(Unsupported, match="no_repeat_ngram_size=4 with the vLLM engine"):
        engine.generate(engine.chat_ids(QUESTION), answer_params(8))
    stream = engine.stream(engine.chat_ids(QUESTION), answer_params(8))  # refused when read, not when built
    with pytest.raises(Unsupported, match="--engine transformers or llamacpp"):
        list(stream)


def test_answers_phrased_through_vllm_use_the_repetition_penalty_alone(engine, tokenizer) -> None:
    from kubetrainer.generation.respond import responder

    assert not engine.bans_repeated_ngrams
    reply = responder(engine, 6)(QUESTION)  # answer_params without n-gram bans: served, not refused
    assert reply == reversed_text(tokenizer, engine.chat_ids(QUESTION), 6).strip()


def test_an_adapter_loaded_at_run_time_is_served(engine, tokenizer, tmp_path: Path) -> None:
    ids = engine.chat_ids(QUESTION)
    engine.load_adapter("late-lora", make_adapter(tmp_path, "late", 16))
    assert engine.generate(ids, greedy(3), adapter="late-lora").text == forward_text(tokenizer, ids, 3)
    assert "late-lora" in {entry["id"] for entry in httpx.get(f"{engine.process.base_url}/v1/models").json()["data"]}
    with pytest.raises(Unsupported, match="already been loaded"):
        engine.load_adapter("late-lora", tmp_path / "late")
    with pytest.raises(Unsupported, match="max_lora_rank 32"):  # ops-lora's r=32 set --max-lora-rank 32
        engine.load_adapter("wide-lora", make_adapter(tmp_path, "wide", 64))
    engine.remove_adapter("late-lora")
    with pytest.raises(UnknownAdapter, match=r"\(404\): The model `late-lora` does not exist"):
        engine.generate(ids, greedy(3), adapter="late-lora")
    with pytest.raises(UnknownAdapter, match="'late-lora' cannot be found"):
        engine.remove_adapter("late-lora")


def test_cancelling_closes_the_stream_and_vllm_stops_generating(engine) -> None:
    ids = engine.encode(" ".join(["pod node restarts OOMKilled"] * 30))
    cancel = threading.Event()
    stream = engine.stream(ids, greedy(len(ids)), cancel=cancel)
    for count, _ in enumerate(stream, 1):
        if count == 2:
            cancel.set()
    assert stream.completion_tokens < 6 and stream.finish_reason == "length"
    deadline = time.monotonic() + 10
    while not (last := httpx.get(f"{engine.process.base_url}/standin/requests").json()[-1])["aborted"]:
        assert time.monotonic() < deadline, last
        time.sleep(0.05)
    assert last["sent"] < len(ids) // 2  # the server stopped when the client closed
    cancelled = threading.Event()
    cancelled.set()
    assert engine.generate(ids, greedy(20), cancel=cancelled).completion_tokens == 0
    assert engine.generate(ids, greedy(3)).completion_tokens == 3  # the engine serves the next request


def test_close_leaves_no_process_of_the_group(bare_model_dir: Path, tokenizer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, standin("--pid-file", str(tmp_path / "pids")))
    started = VLLMEngine.start(bare_model_dir, tokenizer, served_name="tiny-base", start_timeout_s=60)
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    assert all(alive(pid) for pid in pids) and started.process.log.exists()
    started.close()
    started.close()
    assert not any(alive(pid) for pid in pids)  # the stand-in and the child it forked, as vLLM forks its engine core
    assert not started.process.log.exists()


def test_a_vllm_that_exits_early_is_a_clear_error_with_its_last_lines(bare_model_dir: Path, tokenizer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, standin("--exit-with", "CUDA error: out of memory"))
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        VLLMEngine.start(bare_model_dir, tokenizer, served_name="tiny-base", start_timeout_s=60)
    assert time.monotonic() - started < 30
    message = raised.value.render()
    assert message.startswith("--engine vllm: vLLM exited with status 1 before it was ready")
    assert "RuntimeError: CUDA error: out of memory" in message and "vLLM API server version" in message


def test_a_vllm_that_never_becomes_healthy_times_out_and_is_stopped(bare_model_dir: Path, tokenizer, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, standin("--never-healthy", "--pid-file", str(tmp_path / "pids")))
    with pytest.raises(Unavailable, match=r"vLLM was not ready after 3s \(set KUBETRAINER_VLLM_START_TIMEOUT"):
        VLLMEngine.start(bare_model_dir, tokenizer, served_name="tiny-base", start_timeout_s=3)
    assert not any(alive(int(pid)) for pid in (tmp_path / "pids").read_text().split())


def test_the_engine_is_chosen_in_one_place(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    from kubetrainer.cli import main
    from kubetrainer.generation.engines import choose_engine

    monkeypatch.delenv(COMMAND_ENV, raising=False)
    with pytest.raises(UserError, match="vLLM is not installed here") as raised:
        choose_engine("vllm", None)
    assert "\n" not in raised.value.render()
    assert choose_engine("auto", None)[0] != "vllm"  # vllm is not importable here (and there is no GPU)
    assert main(["--home", str(tmp_path), "serve", "--engine", "vllm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--engine vllm: vLLM is not installed here" in err and COMMAND_ENV in err
    monkeypatch.setenv(COMMAND_ENV, standin())
    assert choose_engine("vllm", None) == ("vllm", None)


def test_serve_with_vllm_round_trip_through_the_openai_client(bare_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    """`kubetrainer serve --engine vllm` as a real process in front of the stand-in; stopping it stops vLLM."""
    import openai

    adapter = make_adapter(tmp_path, "ops-lora", 8)
    server = ServerProcess(["--engine", "vllm", "--model", str(bare_model_dir), "--adapter", str(adapter)],
                           tmp_path, env={COMMAND_ENV: standin("--pid-file", str(tmp_path / "pids")), ADMIN_KEY_ENV: ADMIN})
    try:
        server.wait_ready()
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0)
        base = bare_model_dir.name
        engines = {entry.id: getattr(entry, "engine", None) for entry in client.models.list().data}
        assert engines[base] == "vllm" and engines["ops-lora"] == "vllm"
        ids = chat.chat_ids(tokenizer, QUESTION)
        reply = client.chat.completions.create(model=base, messages=QUESTION, max_tokens=5, temperature=0)
        assert reply.choices[0].message.content == reversed_text(tokenizer, ids, 5)
        assert reply.usage.prompt_tokens == len(ids) and reply.usage.completion_tokens == 5
        chunks = client.chat.completions.create(model=base, messages=QUESTION, max_tokens=5, temperature=0,
                                                stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == \
            reversed_text(tokenizer, ids, 5)
        completion = client.completions.create(model="ops-lora", prompt=ids, max_tokens=4, temperature=0,
                                               logprobs=1)
        assert completion.choices[0].text == forward_text(tokenizer, ids, 4)
        assert completion.choices[0].logprobs.token_logprobs == pytest.approx([-0.1, -0.2, -0.3, -0.4])
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            client.chat.completions.create(model="nope", messages=QUESTION, max_tokens=4)
        adapters_at_run_time(server.base_url, client, base, make_adapter(tmp_path, "late", 8), ids, tokenizer)
    finally:
        server.stop()
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"vLLM outlived the server: {pids}"
        time.sleep(0.1)


def adapters_at_run_time(base_url: str, client, base: str, adapter: Path, ids: list[int], tokenizer) -> None:
    """POST /v1/adapters and DELETE /v1/adapters/NAME of `serve --engine vllm`, through to vLLM's runtime LoRA routes."""
    import openai

    admin = {"Authorization": f"Bearer {ADMIN}"}
    added = httpx.post(f"{base_url}/v1/adapters", json={"name": "late-lora", "path": str(adapter)}, headers=admin)
    assert added.status_code == 201 and added.json()["engine"] == "vllm", added.text
    parents = {entry.id: entry.parent for entry in client.models.list().data}
    assert parents["late-lora"] == parents["ops-lora"] == base and parents[base] is None
    reply = client.completions.create(model="late-lora", prompt=ids, max_tokens=4, temperature=0)
    assert reply.choices[0].text == forward_text(tokenizer, ids, 4)
    wide = make_adapter(adapter.parent, "wide", 64)  # beyond --max-lora-rank: vLLM refuses it
    refused = httpx.post(f"{base_url}/v1/adapters", json={"name": "wide", "path": str(wide)}, headers=admin)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "path"
    assert "max_lora_rank" in refused.json()["error"]["message"]
    assert httpx.delete(f"{base_url}/v1/adapters/late-lora", headers=admin).status_code == 200
    with pytest.raises(openai.NotFoundError, match="'late-lora' does not exist"):
        client.completions.create(model="late-lora", prompt=ids, max_tokens=4, temperature=0)


PARENT = """
import sys, time
from pathlib import Path
from kubetrainer.generation.vllm import VLLMEngine, model_tokenizer
model = Path(sys.argv[1])
VLLMEngine.start(model, model_tokenizer(model), served_name="tiny-base", start_timeout_s=60)
print("ready", flush=True)
time.sleep(600)
"""


def test_vllm_does_not_outlive_a_server_killed_with_sigkill(bare_model_dir: Path, tmp_path: Path) -> None:
    """No exit handler runs after SIGKILL: the kernel's parent-death signal stops vLLM and, through it, its children."""
    import os
    import signal
    import subprocess

    env = {**os.environ, COMMAND_ENV: standin("--pid-file", str(tmp_path / "pids"))}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(bare_model_dir)], stdout=subprocess.PIPE, env=env,
                              text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    try:
        assert all(alive(pid) for pid in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids):
            assert time.monotonic() < deadline, f"vLLM outlived its killed parent: {pids}"
            time.sleep(0.1)
    finally:
        for pid in (parent.pid, *pids):  # whatever a failure left running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        parent.wait()
