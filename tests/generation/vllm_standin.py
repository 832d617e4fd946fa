"""A stand-in for vLLM's OpenAI server, run as a real process through KUBETRAINER_VLLM_COMMAND.

It takes vLLM's command line (what `generation.vllm_process.server_args` passes; anything else is an
error, as vLLM's argparse makes it) and speaks vLLM's protocol for what the engine uses: `/health`,
`/v1/models` (the base with its max_model_len, and the LoRA modules), `/v1/completions` with
token-id prompts (streamed with continuous usage, or not), logprobs with `token_id:N` tokens,
`prompt_logprobs`, stop strings held back while streaming, and `/v1/load_lora_adapter` and
`/v1/unload_lora_adapter` (only with VLLM_ALLOW_RUNTIME_LORA_UPDATING; loads checked against
--max-lora-rank, an unknown name to unload is a 404 as in vLLM). It refuses what vLLM refuses: an
unknown model (404), ids outside the vocabulary and prompts beyond max_model_len (400), fields
vLLM does not know (stricter than vLLM, which only warns: a misspelt field fails the tests).

Generation is deterministic so the tests can assert exact text: the base "generates" the prompt's
ids reversed, an adapter the prompt's ids in order, then EOS when the budget allows; token i's
log-probability is -(i+1)/10 and its alternatives are the next ids, 1.0 lower each. Every chunk
waits --token-delay seconds, so a test can cancel mid-stream; /standin/requests tells how each
request ended (all tokens sent, or aborted by a client that went away).

Stand-in options, given before vLLM's in the command: --exit-with TEXT (write TEXT to stderr and
exit 1 at once), --never-healthy (/health answers 503), --pid-file PATH (write this pid and a
child's, which stays in the process group as vLLM's engine core does, and which the stand-in stops
when SIGTERM ends it, as vLLM's server shuts its engine core down).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from tokenizers import Tokenizer


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False
    continuous_usage_stats: bool = False


class Completion(BaseModel):
    """The fields of vLLM's CompletionRequest the engine may send."""

    model_config = ConfigDict(extra="forbid")
    model: str
    prompt: list[int]
    max_tokens: int = 16
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = []
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    return_tokens_as_token_ids: bool | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class LoadLora(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lora_name: str
    lora_path: str


class UnloadLora(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lora_name: str


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vllm-standin")
    parser.add_argument("--exit-with")
    parser.add_argument("--never-healthy", action="store_true")
    parser.add_argument("--pid-file")
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--enable-lora", action="store_true")
    parser.add_argument("--max-lora-rank", type=int, default=16)
    parser.add_argument("--lora-modules", nargs="+", default=[])
    return parser.parse_args(argv)


def error(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": status}}, status)


class StandIn:
    """The model: its tokenizer, context, LoRA modules, and what became of each request."""

    def __init__(self, options: argparse.Namespace) -> None:
        model = Path(options.model)
        self.options = options
        self.tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
        eos = json.loads((model / "tokenizer_config.json").read_text())["eos_token"]
        self.eos = self.tokenizer.token_to_id(eos["content"] if isinstance(eos, dict) else eos)
        self.max_model_len = int(json.loads((model / "config.json").read_text())["max_position_embeddings"])
        self.loras = dict(module.split("=", 1) for module in options.lora_modules)
        self.requests: list[dict[str, Any]] = []

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token(self, token_id: int, as_id: bool) -> str:
        return f"token_id:{token_id}" if as_id else self.tokenizer.decode([token_id], skip_special_tokens=False)

    def refusal(self, body: Completion) -> JSONResponse | None:
        if body.model != self.options.served_model_name and body.model not in self.loras:
            return error(404, f"The model `{body.model}` does not exist.", "NotFoundError")
        vocab = self.tokenizer.get_vocab_size()
        if not body.prompt or any(not 0 <= token < vocab for token in body.prompt):
            return error(400, f"Token id out of vocabulary (size {vocab}) or empty prompt")
        if len(body.prompt) + body.max_tokens > self.max_model_len:
            return error(400, f"This model's maximum context length is {self.max_model_len} tokens. However, you "
                              f"requested {len(body.prompt) + body.max_tokens} tokens.")
        if body.stream_options and not body.stream:
            return error(400, "Stream options can only be defined when `stream=True`.")
        return None

    def completion_ids(self, body: Completion) -> list[int]:
        ordered = body.prompt if body.model in self.loras else body.prompt[::-1]
        ids = ordered[: body.max_tokens]
        return ids + [self.eos] if len(ids) < body.max_tokens else ids

    def logprobs(self, ids: list[int], start: int, top_n: int, as_id: bool) -> dict[str, Any]:
        vocab = self.tokenizer.get_vocab_size()
        block: dict[str, Any] = {"text_offset": [], "token_logprobs": [], "tokens": [], "top_logprobs": []}
        for index, token in enumerate(ids, start):
            value = -(index + 1) / 10
            block["text_offset"].append(0)
            block["token_logprobs"].append(value)
            block["tokens"].append(self.token(token, as_id))
            alternatives = ((token + k) % vocab for k in range(max(top_n, 1)))
            block["top_logprobs"].append({self.token(other, as_id): value - k for k, other in enumerate(alternatives)})
        return block

    def prompt_logprobs(self, prompt: list[int], top_n: int) -> list[dict[str, Any] | None]:
        vocab = self.tokenizer.get_vocab_size()
        entries: list[dict[str, Any] | None] = [None]
        for index, token in enumerate(prompt[1:], 1):
            entries.append({str((token + k) % vocab): {"logprob": -index / 10 - k, "rank": k + 1,
                                                       "decoded_token": self.decode([(token + k) % vocab])}
                            for k in range(top_n + 1)})
        return entries


def generate(standin: StandIn, body: Completion) -> list[tuple[str, list[int], str | None]]:
    """The completion as (text delta, token ids, finish reason) steps, stop strings cut and held back as vLLM does."""
    ids = standin.completion_ids(body)
    hold = max((len(stop) for stop in body.stop), default=1) - 1
    steps: list[tuple[str, list[int], str | None]] = []
    sent = ""
    for count in range(1, len(ids) + 1):
        text = standin.decode(ids[:count])
        cuts = [text.find(stop) for stop in body.stop if stop in text]
        if cuts:
            steps.append((text[: min(cuts)][len(sent):], ids[count - 1: count], "stop"))
            return steps
        last = count == len(ids)
        visible = text if last else text[: max(len(sent), len(text) - hold)]
        finish = ("stop" if ids[-1] == standin.eos else "length") if last else None
        steps.append((visible[len(sent):], ids[count - 1: count], finish))
        sent = visible
    return steps


def build(options: argparse.Namespace) -> FastAPI:
    standin = StandIn(options)
    app = FastAPI()

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("", status_code=503 if options.never_healthy else 200)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        base = {"id": options.served_model_name, "object": "model", "owned_by": "vllm", "root": options.model,
                "parent": None, "max_model_len": standin.max_model_len}
        loras = [{"id": name, "object": "model", "owned_by": "vllm", "root": path, "parent": options.served_model_name}
                 for name, path in standin.loras.items()]
        return {"object": "list", "data": [base, *loras]}

    @app.post("/v1/completions", response_model=None)
    async def completions(body: Completion) -> JSONResponse | StreamingResponse:
        refused = standin.refusal(body)
        if refused is not None:
            return refused
        steps = generate(standin, body)
        if not body.stream:
            return JSONResponse(whole(standin, body, steps))
        return StreamingResponse(stream(standin, body, steps), media_type="text/event-stream")

    if os.environ.get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "").lower() in ("1", "true"):
        @app.post("/v1/load_lora_adapter", response_model=None)
        async def load_lora(body: LoadLora) -> PlainTextResponse | JSONResponse:
            if body.lora_name in standin.loras:
                return error(400, f"The lora adapter '{body.lora_name}' has already been loaded.", "InvalidUserInput")
            config = Path(body.lora_path) / "adapter_config.json"
            if not config.is_file():
                return error(404, f"No adapter found for {body.lora_path}", "NotFoundError")
            rank = json.loads(config.read_text())["r"]
            if rank > options.max_lora_rank:
                return error(400, f"LoRA rank {rank} is greater than max_lora_rank {options.max_lora_rank}.")
            standin.loras[body.lora_name] = body.lora_path
            return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' added successfully.")

        @app.post("/v1/unload_lora_adapter", response_model=None)
        async def unload_lora(body: UnloadLora) -> PlainTextResponse | JSONResponse:
            if standin.loras.pop(body.lora_name, None) is None:
                return error(404, f"The lora adapter '{body.lora_name}' cannot be found.", "NotFoundError")
            return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' removed successfully.")

    @app.get("/standin/requests")
    async def requests() -> list[dict[str, Any]]:
        return standin.requests

    return app


def whole(standin: StandIn, body: Completion, steps: list[tuple[str, list[int], str | None]]) -> dict[str, Any]:
    ids = [token for _, step_ids, _ in steps for token in step_ids]
    choice: dict[str, Any] = {"index": 0, "text": "".join(text for text, _, _ in steps), "finish_reason": steps[-1][2],
                              "logprobs": None}
    if body.logprobs is not None:
        choice["logprobs"] = standin.logprobs(ids, 0, body.logprobs, bool(body.return_tokens_as_token_ids))
    if body.prompt_logprobs is not None:
        choice["prompt_logprobs"] = standin.prompt_logprobs(body.prompt, body.prompt_logprobs)
    standin.requests.append({"model": body.model, "sent": len(ids), "aborted": False})
    return {"id": "cmpl-standin", "object": "text_completion", "model": body.model, "choices": [choice],
            "usage": usage(len(body.prompt), len(ids))}


async def stream(standin: StandIn, body: Completion, steps: list[tuple[str, list[int], str | None]]) -> Any:
    """The SSE body; `aborted` stays true unless the client read it to the end (vLLM aborts a request whose
    client has gone, and so does this: Starlette cancels the generator on the disconnect)."""
    record = {"model": body.model, "sent": 0, "aborted": True}
    standin.requests.append(record)
    options = body.stream_options or StreamOptions()
    for index, (text, ids, finish) in enumerate(steps):
        await asyncio.sleep(standin.options.token_delay)
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        if body.logprobs is not None:
            choice["logprobs"] = standin.logprobs(ids, index, body.logprobs, bool(body.return_tokens_as_token_ids))
        chunk: dict[str, Any] = {"id": "cmpl-standin", "object": "text_completion", "model": body.model,
                                 "choices": [choice]}
        if options.include_usage and options.continuous_usage_stats:
            chunk["usage"] = usage(len(body.prompt), index + 1)
        record["sent"] = index + 1
        yield f"data: {json.dumps(chunk)}\n\n"
    if options.include_usage:
        last = {"id": "cmpl-standin", "choices": [], "usage": usage(len(body.prompt), len(steps))}
        yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"
    record["aborted"] = False


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def main(argv: list[str]) -> None:
    options = parse(argv)
    if options.exit_with:
        print("INFO 01-01 00:00:00 api_server.py: vLLM API server version 0.0-standin", flush=True)
        sys.stderr.write(f"Traceback (most recent call last):\nRuntimeError: {options.exit_with}\n")
        sys.exit(1)
    child = None
    if options.pid_file:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        Path(options.pid_file).write_text(f"{os.getpid()} {child.pid}\n")
    # uvicorn raises SIGTERM again after its shutdown: exit through Python, so the engine core is stopped below
    signal.signal(signal.SIGTERM, lambda number, _frame: sys.exit(128 + number))
    try:
        uvicorn.run(build(options), host=options.host, port=options.port, log_level="warning")
    finally:
        if child is not None:
            child.terminate()


if __name__ == "__main__":
    main(sys.argv[1:])
