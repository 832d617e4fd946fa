"""Text generation over a `LoadedModel`: whole answers, token streams, and log-probabilities.

Thin on purpose: `model.generate` does the decoding; this module adds what an API
needs around it: stop sequences that never leak, cancellation (timeouts, client
gone), token counts, sampling from each request's own random generator (so a seed
gives the same text however many requests run beside it), and log-probabilities from
the model's own log-softmax so evaluation harnesses can score text through the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from kubetrainer.generation import chat
from kubetrainer.serve.errors import APIError
from kubetrainer.serve.registry import LoadedModel
from kubetrainer.serve.stops import StopTrimmer, trim_at_stop


@dataclass(frozen=True)
class SamplingParams:
    """How to decode; `top_logprobs` None means no log-probabilities at all."""

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_logprobs: int | None = None


@dataclass
class TokenLogprob:
    """One token as text, its log-probability, and the most likely alternatives."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    logprobs: list[TokenLogprob] | None = None


class _Cancelled(StoppingCriteria):
    """Stops decoding between two tokens once `event` is set (timeout or disconnect)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def chat_input_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The prompt token ids for chat `messages`, rendered as training renders them (`generation.chat`)."""
    return chat.chat_ids(tokenizer, messages)


def text_input_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text)["input_ids"])


def fit_budget(lm: LoadedModel, prompt_tokens: int, max_new_tokens: int, requested: str | None = None) -> int:
    """The completion tokens to generate: the context must hold the prompt and, when the client asked for a
    number (`requested` names its field), that number too; a number the server chose is cut to fit.

    A request beyond the context is refused as OpenAI refuses it (400 context_length_exceeded)
    rather than quietly answered with fewer tokens than asked for.
    """
    if prompt_tokens == 0:
        raise APIError(400, "the prompt is empty; nothing to continue from", param="prompt", code="invalid_value")
    room = lm.context_length - prompt_tokens
    if room < 0 or (room == 0 and max_new_tokens > 0):
        raise APIError(400, f"This model's maximum context length is {lm.context_length} tokens, "
                            f"but the prompt has {prompt_tokens}", param="messages", code="context_length_exceeded")
    if requested and max_new_tokens > room:
        raise APIError(400, f"This model's maximum context length is {lm.context_length} tokens. However, you "
                            f"requested {prompt_tokens + max_new_tokens} tokens ({prompt_tokens} in the prompt, {max_new_tokens} "
                            f"in the completion). Please reduce the length of the prompt or {requested}.",
                       param=requested, code="context_length_exceeded")
    return min(max_new_tokens, room)


class _Sampler(LogitsProcessor):
    """Draws each token from this request's own generator, then leaves only that token for decoding to pick.

    `torch.manual_seed` seeds the one generator every request in the process draws from, so a
    seeded request gave another text whenever one ran beside it. `generate` therefore decodes
    greedily, and temperature, top-p and the draw happen here.
    """

    def __init__(self, temperature: float, top_p: float, seed: int | None) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.generator: torch.Generator | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.generator is None:  # on the device the scores are on
            self.generator = torch.Generator(device=scores.device)
            if self.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(self.seed)
        logits = scores.float() / self.temperature
        if self.top_p < 1.0:  # keep the most likely tokens until their probabilities reach top_p
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            probabilities = ordered.softmax(dim=-1)
            outside = probabilities.cumsum(dim=-1) - probabilities >= self.top_p
            logits = logits.scatter(-1, order, ordered.masked_fill(outside, float("-inf")))
        choice = torch.multinomial(logits.softmax(dim=-1), 1, generator=self.generator)
        return torch.full_like(scores, float("-inf")).scatter(-1, choice, 0.0)


def _generate_kwargs(lm: LoadedModel, params: SamplingParams, adapter: str | None,
                     cancel: threading.Event) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "max_new_tokens": params.max_new_tokens,
        "do_sample": False,  # greedy over what `_Sampler` leaves when sampling
        "temperature": None, "top_p": None, "top_k": None,
        "pad_token_id": lm.tokenizer.pad_token_id,
        "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
    }
    if params.temperature > 0:
        kwargs["logits_processor"] = LogitsProcessorList([_Sampler(params.temperature, params.top_p, params.seed)])
    if params.stop:
        kwargs.update(stop_strings=list(params.stop), tokenizer=lm.tokenizer)
    if adapter is not None:
        kwargs["adapter_names"] = [adapter]
    return kwargs


def _as_tensor(input_ids: list[int]) -> dict[str, torch.Tensor]:
    ids = torch.tensor([input_ids], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _token_logprobs(lm: LoadedModel, token_ids: list[int], logits: list[torch.Tensor], top_n: int) -> list[TokenLogprob]:
    """Each token's log-probability under the logits that predicted it, plus the top-`top_n`."""
    decode = lm.tokenizer.decode
    result = []
    for token_id, row in zip(token_ids, logits):
        logprobs = torch.log_softmax(row.float(), dim=-1)
        top = torch.topk(logprobs, top_n) if top_n else None
        alternatives = [(decode([int(i)]), float(v)) for v, i in zip(top.values, top.indices)] if top else []
        result.append(TokenLogprob(decode([token_id]), float(logprobs[token_id]), alternatives))
    return result


def _ends_with_eos(lm: LoadedModel, token_ids: list[int]) -> bool:
    eos = lm.model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) | {lm.tokenizer.eos_token_id}
    return bool(token_ids) and token_ids[-1] in eos_ids


def generate(lm: LoadedModel, input_ids: list[int], params: SamplingParams, adapter: str | None,
             cancel: threading.Event) -> Generation:
    """A whole completion for one prompt."""
    want_logprobs = params.top_logprobs is not None
    with torch.inference_mode():
        out = lm.model.generate(**_as_tensor(input_ids), **_generate_kwargs(lm, params, adapter, cancel),
                                return_dict_in_generate=True, output_logits=want_logprobs)
    new_ids = [int(token) for token in out.sequences[0, len(input_ids):]]
    eos = _ends_with_eos(lm, new_ids)
    text, stopped = trim_at_stop(lm.tokenizer.decode(new_ids, skip_special_tokens=True), list(params.stop))
    logprobs = None
    if want_logprobs:
        logits = [step[0] for step in out.logits]
        logprobs = _token_logprobs(lm, new_ids, logits, params.top_logprobs or 0)
    finish = "stop" if eos or stopped else "length"
    return Generation(text, len(input_ids), len(new_ids), finish, logprobs)


def prompt_logprobs(lm: LoadedModel, input_ids: list[int], top_n: int, adapter: str | None) -> list[TokenLogprob]:
    """Log-probabilities of the prompt's own tokens; NaN for the first, which nothing predicts."""
    kwargs = {"adapter_names": [adapter]} if adapter is not None else {}
    with torch.inference_mode():
        logits = lm.model(**_as_tensor(input_ids), **kwargs).logits[0]
    scored = _token_logprobs(lm, input_ids[1:], list(logits[:-1]), top_n)
    return [TokenLogprob(lm.tokenizer.decode(input_ids[:1]), float("nan")), *scored]


class TokenStream:
    """Text deltas as the model produces them; counts and finish reason once exhausted."""

    def __init__(self, lm: LoadedModel, input_ids: list[int], params: SamplingParams, adapter: str | None,
                 cancel: threading.Event) -> None:
        self.lm = lm
        self.prompt_tokens = len(input_ids)
        self.completion_tokens = 0
        self.finish_reason = "length"
        self._cancel = cancel
        self._trimmer = StopTrimmer(list(params.stop))
        self._streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._result: dict[str, Any] = {}
        kwargs = {**_as_tensor(input_ids), **_generate_kwargs(lm, params, adapter, cancel), "streamer": self._streamer}
        self._thread = threading.Thread(target=self._run, args=(kwargs,), daemon=True)

    def _run(self, kwargs: dict[str, Any]) -> None:
        try:
            with torch.inference_mode():
                self._result["sequences"] = self.lm.model.generate(**kwargs)
        except BaseException as error:  # re-raised in the consumer's thread
            self._result["error"] = error
            self._streamer.end()

    def __iter__(self) -> Iterator[str]:
        self._thread.start()
        for delta in self._streamer:
            emitted = self._trimmer.feed(delta)
            if emitted:
                yield emitted
            if self._trimmer.stopped:
                self._cancel.set()
                break
        self._thread.join()
        if "error" in self._result:
            raise self._result["error"]
        tail = self._trimmer.flush()
        if tail:
            yield tail
        new_ids = [int(token) for token in self._result["sequences"][0, self.prompt_tokens:]]
        self.completion_tokens = len(new_ids)
        self.finish_reason = "stop" if self._trimmer.stopped or _ends_with_eos(self.lm, new_ids) else "length"
