"""The vLLM engine: vLLM's OpenAI server as a managed child process, behind the same `Engine` as transformers.

vLLM batches requests on the GPU (continuous batching, paged KV cache, LoRA adapters per request),
which is what a GPU server wants; our server keeps RAG, the answer engine, the cache, auth and
metrics in front of it. `generation.vllm_process` starts and stops the child; this module speaks
its protocol:

- Prompts cross as token ids rendered by `generation.chat` with the model's own tokenizer, loaded
  here too (`/v1/completions` with `prompt` a list of ids), so vLLM sees exactly the ids the other
  engines see and applies no template of its own.
- Every completion is a stream (SSE), `generate` included: cancellation closes the stream between
  two tokens (vLLM aborts a request whose client has gone), and usage arrives with every chunk
  (`continuous_usage_stats`), so a cancelled completion still counts its tokens.
- `model` is the base's served name, or an adapter's name for a per-request LoRA adapter (served
  with `--lora-modules`, or loaded later with `load_adapter` and removed with `remove_adapter`:
  vLLM's `/v1/load_lora_adapter` and `/v1/unload_lora_adapter`). A 404 (an adapter vLLM does not
  hold) is `UnknownAdapter`.
- Log-probabilities come back with token ids (`return_tokens_as_token_ids`) and are decoded here, so
  their text is the same as the other engines give; prompt log-probabilities use `prompt_logprobs`.
- vLLM has no per-request no-repeat-n-gram guard (`bans_repeated_ngrams` is False): answers phrased
  through it (`generation.respond`, a served `rag_phrase`) use the repetition penalty alone, and a
  request that still asks for n-gram bans raises `Unsupported` rather than being decoded without them.
  Anything else vLLM refuses (4xx) is `Unsupported` with vLLM's own message.
"""

from __future__ import annotations

import atexit
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from kubetrainer.generation import chat
from kubetrainer.generation.chat import TokenizerText
from kubetrainer.generation.engine import BASE_ADAPTER, Generation, TokenLogprob, UnknownAdapter, Unsupported
from kubetrainer.generation.params import SamplingParams
from kubetrainer.generation.vllm_process import VLLMProcess, free_port, server_args

READ_TIMEOUT_S = 600.0  # between two chunks: a long prompt's prefill on a busy GPU, not a whole completion
TOKEN_ID_PREFIX = "token_id:"


def model_tokenizer(model_dir: Path) -> Any:
    """The model's HF tokenizer with the chat template every engine renders with."""
    from transformers import AutoTokenizer

    return chat.carry_template(AutoTokenizer.from_pretrained(model_dir))


class VLLMEngine(TokenizerText):
    """`Engine` over a running vLLM OpenAI server and the model's HF tokenizer (which renders chats)."""

    bans_repeated_ngrams = False

    def __init__(self, process: VLLMProcess, client: httpx.Client, tokenizer: Any, served_name: str,
                 context_length: int) -> None:
        self.process = process
        self.client = client
        self.tokenizer = tokenizer
        self.served_name = served_name
        self.context_length = context_length
        self._closed = threading.Event()

    @classmethod
    def start(cls, model_dir: Path, tokenizer: Any, *, served_name: str, adapters: Mapping[str, Path] | None = None,
              start_timeout_s: float | None = None) -> VLLMEngine:
        """Starts vLLM on `model_dir` with `adapters` (name: directory) and returns once it is healthy."""
        port = free_port()
        process = VLLMProcess.start(server_args(model_dir, served_name, port, adapters or {}), port)
        client = httpx.Client(base_url=process.base_url, timeout=httpx.Timeout(READ_TIMEOUT_S, connect=10.0),
                              limits=httpx.Limits(max_connections=256, max_keepalive_connections=32))
        try:
            process.wait_healthy(client, start_timeout_s)
            context_length = _max_model_len(client, served_name)
        except BaseException:
            process.stop()
            client.close()
            raise
        engine = cls(process, client, chat.carry_template(tokenizer), served_name, context_length)
        atexit.register(engine.close)  # our server's exit stops vLLM, however uvicorn ended
        return engine

    def close(self) -> None:
        """Stops vLLM and its process group (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self.client.close()
            self.process.stop()

    def load_adapter(self, name: str, path: Path) -> None:
        """Loads a LoRA adapter into the running vLLM, served from now on under `name` (`/v1/load_lora_adapter`)."""
        reply = self._call("POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(Path(path).resolve())})
        if reply.status_code != 200:
            raise _refusal(reply)

    def remove_adapter(self, name: str) -> None:
        """Removes the LoRA adapter `name` from the running vLLM (`/v1/unload_lora_adapter`)."""
        reply = self._call("POST", "/v1/unload_lora_adapter", {"lora_name": name})
        if reply.status_code != 200:
            raise _refusal(reply)

    def generate(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
                 cancel: threading.Event | None = None) -> Generation:
        stream = self.stream(prompt_ids, params, adapter=adapter, cancel=cancel)
        text = "".join(stream)
        return Generation(text, len(prompt_ids), stream.completion_tokens, stream.finish_reason, stream.logprobs)

    def stream(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
               cancel: threading.Event | None = None) -> VLLMTokenStream:
        return VLLMTokenStream(self, prompt_ids, params, adapter, cancel or threading.Event())

    def prompt_logprobs(self, prompt_ids: list[int], top_n: int, *, adapter: str | None = None) -> list[TokenLogprob]:
        body = {"model": self._model(adapter), "prompt": list(prompt_ids), "max_tokens": 1, "temperature": 0.0,
                "prompt_logprobs": top_n}
        reply = self._call("POST", "/v1/completions", body)
        if reply.status_code != 200:
            raise _refusal(reply)
        entries = reply.json()["choices"][0]["prompt_logprobs"]
        scored = [TokenLogprob(self.decode(prompt_ids[:1]), float("nan"))]
        for token, entry in zip(prompt_ids[1:], entries[1:]):
            ranked = sorted(entry.items(), key=lambda item: -item[1]["logprob"])[:top_n]
            top = [(self.decode([int(key)]), float(value["logprob"])) for key, value in ranked]
            scored.append(TokenLogprob(self.decode([token]), float(entry[str(token)]["logprob"]), top))
        return scored

    def _model(self, adapter: str | None) -> str:
        """The `model` a request names: the base's served name, or the adapter's."""
        return self.served_name if adapter in (None, BASE_ADAPTER) else str(adapter)

    def _request(self, prompt_ids: list[int], params: SamplingParams, adapter: str | None) -> dict[str, Any]:
        """The `/v1/completions` body for one streamed completion with these parameters."""
        if params.no_repeat_ngram_size:
            raise Unsupported(f"no_repeat_ngram_size={params.no_repeat_ngram_size} with the vLLM engine: vLLM has no "
                              "per-request no-repeat-n-gram guard; serve with --engine transformers or llamacpp")
        body: dict[str, Any] = {
            "model": self._model(adapter), "prompt": list(prompt_ids), "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "stop": list(params.stop),
            "frequency_penalty": params.frequency_penalty, "presence_penalty": params.presence_penalty,
            "repetition_penalty": params.repetition_penalty, "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_logprobs is not None:
            body.update(logprobs=params.top_logprobs, return_tokens_as_token_ids=True)
        return body

    def _call(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self.client.request(method, path, json=body)
        except httpx.TransportError as error:
            raise self._gone(error) from error

    def _gone(self, error: Exception) -> RuntimeError:
        status = self.process.process.poll()
        state = f"it exited with status {status}" if status is not None else "it is still running"
        return RuntimeError(f"vLLM at {self.process.base_url} did not answer ({error}); {state}; "
                            f"log: {self.process.log}")

    def _chunks(self, body: dict[str, Any], cancel: threading.Event) -> Iterator[dict[str, Any]]:
        """The stream's JSON chunks until [DONE]; leaving early (cancel, or a consumer gone) closes the stream."""
        try:
            with self.client.stream("POST", "/v1/completions", json=body) as reply:
                if reply.status_code != 200:
                    reply.read()
                    raise _refusal(reply)
                for line in reply.iter_lines():
                    if cancel.is_set():
                        return
                    if not line.startswith("data: "):
                        continue
                    if line == "data: [DONE]":
                        return
                    chunk = json.loads(line[len("data: "):])
                    if "error" in chunk:
                        raise RuntimeError(f"vLLM failed the completion: {_message(chunk)}")
                    yield chunk
        except httpx.TransportError as error:
            raise self._gone(error) from error


class VLLMTokenStream:
    """`TokenStream` for `VLLMEngine`: the text deltas of one streamed completion, counted as they arrive.

    The request is built and sent when iteration starts, so a refusal (`Unsupported`) comes from there,
    where the server already holds a generation slot and releases it. `logprobs` (None unless asked
    for) fills as the stream is read, for `generate`.
    """

    def __init__(self, engine: VLLMEngine, prompt_ids: list[int], params: SamplingParams, adapter: str | None,
                 cancel: threading.Event) -> None:
        self.engine = engine
        self.prompt_ids = prompt_ids
        self.params = params
        self.adapter = adapter
        self.cancel = cancel
        self.prompt_tokens = len(prompt_ids)
        self.completion_tokens = 0
        self.finish_reason = "length"
        self.logprobs: list[TokenLogprob] | None = None

    def __iter__(self) -> Iterator[str]:
        body = self.engine._request(self.prompt_ids, self.params, self.adapter)
        top_n = self.params.top_logprobs
        if top_n is not None:
            self.logprobs = []
        for chunk in self.engine._chunks(body, self.cancel):
            usage = chunk.get("usage")
            if usage:
                self.completion_tokens = int(usage.get("completion_tokens") or 0)
            for choice in chunk.get("choices") or []:
                if choice.get("finish_reason"):
                    self.finish_reason = "stop" if choice["finish_reason"] == "stop" else "length"
                if self.logprobs is not None and choice.get("logprobs"):
                    self.logprobs += _token_logprobs(choice["logprobs"], self.engine.decode, top_n or 0)
                if choice.get("text"):
                    yield choice["text"]


def _token_id(token: str) -> int:
    """A token vLLM names as `token_id:N` (`return_tokens_as_token_ids`)."""
    return int(token.removeprefix(TOKEN_ID_PREFIX))


def _token_logprobs(block: dict[str, Any], decode: Callable[[list[int]], str], top_n: int) -> list[TokenLogprob]:
    """OpenAI's completion `logprobs` block (tokens as ids) as `TokenLogprob`s, each with its `top_n` alternatives."""
    scored = []
    tops = block.get("top_logprobs") or [None] * len(block["tokens"])
    for token, logprob, top in zip(block["tokens"], block["token_logprobs"], tops):
        ranked = sorted((top or {}).items(), key=lambda item: -item[1])[:top_n]
        alternatives = [(decode([_token_id(key)]), float(value)) for key, value in ranked]
        scored.append(TokenLogprob(decode([_token_id(token)]), float(logprob if logprob is not None else math.nan),
                                   alternatives))
    return scored


def _message(body: dict[str, Any]) -> str:
    """vLLM's error message: `{"error": {"message": ...}}`, or the older `{"message": ...}`."""
    error = body.get("error")
    return str(error.get("message") if isinstance(error, dict) else body.get("message") or body)


def _refusal(reply: httpx.Response) -> Exception:
    """A 4xx from vLLM as `Unsupported` (the server answers 400 with vLLM's reason; a 404, an adapter it does not
    hold, as `UnknownAdapter`); anything else as a failure."""
    try:
        message = _message(reply.json())
    except ValueError:
        message = reply.text.strip() or reply.reason_phrase
    if reply.status_code == 404:
        return UnknownAdapter(f"vLLM refused the request (404): {message}")
    if 400 <= reply.status_code < 500:
        return Unsupported(f"vLLM refused the request ({reply.status_code}): {message}")
    return RuntimeError(f"vLLM answered {reply.status_code}: {message}")


def _max_model_len(client: httpx.Client, served_name: str) -> int:
    """The context vLLM serves the base with (`max_model_len` in its `/v1/models`)."""
    listing = client.get("/v1/models").json()
    for entry in listing.get("data", []):
        if entry.get("id") == served_name and entry.get("max_model_len"):
            return int(entry["max_model_len"])
    raise RuntimeError(f"vLLM does not list {served_name!r} with its max_model_len: {listing}")
