"""The transformers engine: `model.generate` does the decoding, this adds what callers need around it.

Stop sequences that never leak, cancellation between two tokens (timeouts, a client gone),
token counts, sampling from each request's own random generator (so a seed gives the same
text however many requests run beside it), OpenAI's frequency and presence penalties,
the repetition guard of `params.answer_params`, and log-probabilities from the model's
own log-softmax so evaluation harnesses can score text through the server. Adapters are added
and removed while it serves (`load_adapter`, `remove_adapter`; `generation.peft_adapters`): each
generation runs under the adapter lock and resolves its adapter when it starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from kubetrainer.generation.chat import TokenizerText
from kubetrainer.generation.engine import Generation, TokenLogprob
from kubetrainer.generation.params import SamplingParams
from kubetrainer.generation.peft_adapters import AdapterLock, adapter_names, attach, detach
from kubetrainer.generation.stops import StopTrimmer, trim_at_stop

DEFAULT_CONTEXT = 2048
_PLACEHOLDER_LIMIT = 1_000_000  # tokenizers without a limit report 1e30


def context_length(model: Any, tokenizer: Any) -> int:
    """The model's context length: its config first (tokenizers often report a huge placeholder)."""
    configured = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if configured:
        return int(configured)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(min(limit, _PLACEHOLDER_LIMIT)) if limit else DEFAULT_CONTEXT


class _Cancelled(StoppingCriteria):
    """Stops decoding between two tokens once `event` is set (timeout or disconnect)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _Penalties(LogitsProcessor):
    """OpenAI's frequency and presence penalties over the completion's own tokens (not the prompt's),
    as OpenAI and vLLM count them: logit - count * frequency - (count > 0) * presence."""

    def __init__(self, prompt_length: int, frequency: float, presence: float) -> None:
        self.prompt_length = prompt_length
        self.frequency = frequency
        self.presence = presence

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_length:]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores).scatter_add_(-1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence


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


class TransformersEngine(TokenizerText):
    """`Engine` over a transformers causal LM (optionally a PEFT model with named adapters) and its tokenizer.

    Holds no per-request state, so one instance serves concurrent requests from several threads; `model`
    changes (the PEFT wrapper comes and goes) only under the adapter lock.
    """

    bans_repeated_ngrams = True

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.context_length = context_length(model, tokenizer)
        self.adapter_lock = AdapterLock()

    @property
    def pad_token_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def load_adapter(self, name: str, path: Path) -> None:
        """Adds the PEFT adapter at `path` under `name` once the generations in flight have ended."""
        with self.adapter_lock.changing():
            self.model = attach(self.model, name, path)

    def remove_adapter(self, name: str) -> None:
        """Removes the adapter `name` once the generations in flight (some may use it) have ended."""
        with self.adapter_lock.changing():
            self.model = detach(self.model, name)

    def generate(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
                 cancel: threading.Event | None = None) -> Generation:
        want_logprobs = params.top_logprobs is not None
        kwargs = self._generate_kwargs(prompt_ids, params, cancel or threading.Event())
        with self.adapter_lock.generating(), torch.inference_mode():
            out = self.model.generate(**kwargs, **self._adapter_kwargs(adapter), return_dict_in_generate=True,
                                      output_logits=want_logprobs)
        new_ids = [int(token) for token in out.sequences[0, len(prompt_ids):]]
        text, stopped = trim_at_stop(self.tokenizer.decode(new_ids, skip_special_tokens=True), list(params.stop))
        logprobs = None
        if want_logprobs:
            logprobs = self._token_logprobs(new_ids, [step[0] for step in out.logits], params.top_logprobs or 0)
        finish = "stop" if stopped or self.ends_with_eos(new_ids) else "length"
        return Generation(text, len(prompt_ids), len(new_ids), finish, logprobs)

    def stream(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
               cancel: threading.Event | None = None) -> HFTokenStream:
        return HFTokenStream(self, prompt_ids, params, adapter, cancel or threading.Event())

    def prompt_logprobs(self, prompt_ids: list[int], top_n: int, *, adapter: str | None = None) -> list[TokenLogprob]:
        with self.adapter_lock.generating(), torch.inference_mode():
            logits = self.model(**self._as_tensors(prompt_ids), **self._adapter_kwargs(adapter)).logits[0]
        scored = self._token_logprobs(prompt_ids[1:], list(logits[:-1]), top_n)
        return [TokenLogprob(self.tokenizer.decode(prompt_ids[:1]), float("nan")), *scored]

    def ends_with_eos(self, token_ids: list[int]) -> bool:
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        return bool(token_ids) and token_ids[-1] in eos_ids

    def _as_tensors(self, prompt_ids: list[int]) -> dict[str, torch.Tensor]:
        device = next(self.model.parameters()).device
        ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def _adapter_kwargs(self, adapter: str | None) -> dict[str, Any]:
        """`adapter_names` for the model as it is now (call under the adapter lock)."""
        names = adapter_names(self.model, adapter)
        return {"adapter_names": names} if names is not None else {}

    def _generate_kwargs(self, prompt_ids: list[int], params: SamplingParams, cancel: threading.Event) -> dict[str, Any]:
        """`model.generate`'s arguments: every decoding choice explicit, so a model's generation_config adds none."""
        processors: list[LogitsProcessor] = []
        if params.frequency_penalty or params.presence_penalty:
            processors.append(_Penalties(len(prompt_ids), params.frequency_penalty, params.presence_penalty))
        if params.temperature > 0:
            processors.append(_Sampler(params.temperature, params.top_p, params.seed))
        kwargs: dict[str, Any] = {
            **self._as_tensors(prompt_ids),
            "max_new_tokens": params.max_new_tokens,
            "do_sample": False,  # greedy over what `_Sampler` leaves when sampling
            "temperature": None, "top_p": None, "top_k": None,
            "repetition_penalty": params.repetition_penalty,
            "no_repeat_ngram_size": params.no_repeat_ngram_size,
            "pad_token_id": self.pad_token_id,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
            "logits_processor": LogitsProcessorList(processors),
        }
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        return kwargs

    def _token_logprobs(self, token_ids: list[int], logits: list[torch.Tensor], top_n: int) -> list[TokenLogprob]:
        """Each token's log-probability under the logits that predicted it, plus the top-`top_n`."""
        decode = self.tokenizer.decode
        result = []
        for token_id, row in zip(token_ids, logits):
            logprobs = torch.log_softmax(row.float(), dim=-1)
            top = torch.topk(logprobs, top_n) if top_n else None
            alternatives = [(decode([int(i)]), float(v)) for v, i in zip(top.values, top.indices)] if top else []
            result.append(TokenLogprob(decode([token_id]), float(logprobs[token_id]), alternatives))
        return result


class HFTokenStream:
    """`TokenStream` for `TransformersEngine`: `model.generate` in a thread feeding a `TextIteratorStreamer`.

    A stop sequence found in the text sets `cancel`, so the model stops within one token
    instead of generating to the budget behind a client that has its answer.
    """

    def __init__(self, engine: TransformersEngine, prompt_ids: list[int], params: SamplingParams, adapter: str | None,
                 cancel: threading.Event) -> None:
        self.engine = engine
        self.prompt_tokens = len(prompt_ids)
        self.completion_tokens = 0
        self.finish_reason = "length"
        self._cancel = cancel
        self._trimmer = StopTrimmer(list(params.stop))
        self._streamer = TextIteratorStreamer(engine.tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._result: dict[str, Any] = {}
        kwargs = {**engine._generate_kwargs(prompt_ids, params, cancel), "streamer": self._streamer}
        self._thread = threading.Thread(target=self._run, args=(kwargs, adapter), daemon=True)

    def _run(self, kwargs: dict[str, Any], adapter: str | None) -> None:
        engine = self.engine
        try:
            with engine.adapter_lock.generating(), torch.inference_mode():
                self._result["sequences"] = engine.model.generate(**kwargs, **engine._adapter_kwargs(adapter))
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
        self.finish_reason = "stop" if self._trimmer.stopped or self.engine.ends_with_eos(new_ids) else "length"
