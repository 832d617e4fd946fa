"""The interface every inference engine implements, and what it returns.

Prompts cross this interface as token ids, rendered by `generation.chat` on our side: the
one rendering home stays ours whichever engine runs the model, and every engine in view
takes token ids (transformers' `generate`, llama-cpp-python's `Llama.generate` /
`create_completion(prompt=[...])`, vLLM's OpenAI server's `/v1/completions` with a list
of ids). Adapters are named per request (PEFT's `adapter_names`, a llama.cpp LoRA applied
per request, a vLLM LoRA module served under its own model name); `BASE_ADAPTER` names the base
where adapters are served beside it. Adapters may come and go while the engine serves
(`load_adapter` / `remove_adapter` on the transformers and vLLM engines); a request naming one that
is gone raises `UnknownAdapter`. Cancellation is a `threading.Event` the engine checks
between two tokens (a llama.cpp loop checks it, the vLLM client closes its stream).

`TransformersEngine` (`generation.hf`), `LlamaCppEngine` (`generation.llamacpp`) and `VLLMEngine`
(`generation.vllm`, vLLM's OpenAI server as a child process, spoken to over HTTP) implement it;
which one serves is chosen in one place, `generation.engines`. A request an engine cannot
honour raises `Unsupported` (the server answers 400) rather than being quietly changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kubetrainer.generation.chat import Messages
from kubetrainer.generation.params import SamplingParams

BASE_ADAPTER = "__base__"  # the base model, named in a request where adapters are served beside it (PEFT's name)


class Unsupported(ValueError):
    """A request this engine cannot honour (the message names what); the server answers it with a 400."""


class UnknownAdapter(Unsupported):
    """A request naming an adapter the engine does not hold (never loaded, or removed); the server answers 404."""


@dataclass
class TokenLogprob:
    """One token as text, its log-probability, and the most likely alternatives."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Generation:
    """A whole completion: its text (cut before any stop sequence), token counts, and why it ended.

    `finish_reason` is OpenAI's: "stop" (end of sequence or a stop sequence) or "length".
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    logprobs: list[TokenLogprob] | None = None


class TokenStream(Protocol):
    """Text deltas as the model produces them (stop sequences never leak into them);
    `completion_tokens` and `finish_reason` are final once the iteration has ended."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str

    def __iter__(self) -> Iterator[str]: ...


class Engine(Protocol):
    """A loaded model that continues prompts.

    `adapter` names a LoRA adapter loaded on the engine's base (None: as loaded). `cancel`,
    once set, ends decoding before the next token; what was produced so far is returned.
    `bans_repeated_ngrams`: whether it honours `no_repeat_ngram_size` (answers leave it out where not).
    """

    bans_repeated_ngrams: bool

    @property
    def context_length(self) -> int:
        """How many tokens prompt and completion may hold together."""
        ...

    @property
    def vocab_size(self) -> int:
        """Token ids are in 0..vocab_size-1."""
        ...

    def chat_ids(self, messages: Messages) -> list[int]:
        """The prompt asking for the next assistant turn, rendered by `generation.chat`."""
        ...

    def encode(self, text: str) -> list[int]:
        """A plain-text prompt as token ids (with the model's BOS when it uses one)."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is (usage reports)."""
        ...

    def decode(self, token_ids: list[int]) -> str:
        ...

    def generate(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
                 cancel: threading.Event | None = None) -> Generation:
        """A whole completion of one prompt."""
        ...

    def stream(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
               cancel: threading.Event | None = None) -> TokenStream:
        """The same completion as `generate`, as text deltas; decoding starts when iteration does."""
        ...

    def prompt_logprobs(self, prompt_ids: list[int], top_n: int, *, adapter: str | None = None) -> list[TokenLogprob]:
        """Each prompt token's log-probability given the ones before it (NaN for the first) and the top `top_n`."""
        ...
