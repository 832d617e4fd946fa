"""The llama.cpp engine: GGUF models through llama-cpp-python, behind the same `Engine` as transformers.

llama-cpp-python is optional (a wheel built from its sdist, see scripts/setup.d/06-llama-cpp.sh),
so it is imported only when an engine is loaded. llama.cpp evaluates the model (prompt
prefill, one token at a time after it, the KV cache kept across requests for a shared
prefix); everything else is ours and matches `generation.hf`:

- Prompts arrive as token ids rendered by `generation.chat` with the model's HF tokenizer;
  `chat_ids` tokenizes that same text with the GGUF's own vocabulary (special tokens parsed),
  and the tests check both give the same ids.
- Decoding reads the last position's logits and picks the token here (numpy): greedy, or drawn
  from the request's own generator seeded by `seed` (temperature, then top-p), after OpenAI's
  frequency/presence penalties and the answer guard's repetition penalty and no-repeat n-grams,
  with the semantics of the transformers engine. Log-probabilities come from the raw logits.
- Stop sequences never leak (`StopTrimmer`); cancellation is checked between two tokens.
- Prompt log-probabilities (`echo` with `logprobs`) are computed by feeding the prompt one token
  at a time (llama.cpp keeps only the last position's logits unless a context is built with
  `logits_all`, which costs n_ctx x vocab floats): exact, and slower than transformers for long prompts.
- LoRA adapters are applied per request, as llama.cpp's own server does: each PEFT adapter is converted
  to a GGUF LoRA for this model (`train.gguf_lora`; a `.gguf` adapter is taken as is) and loaded once
  (`llama_adapter_lora_init`); a request sets its adapter, or none for the base, on the context
  (`llama_set_adapters_lora`) and, when that changes it, drops the KV cache, which the other adapter
  computed. Adapters are added and removed while the engine serves, between two requests (the lock).

One llama.cpp context serves one request at a time (a lock); the server's generation slots queue the rest.
Threads: half the CPUs this process may use (affinity, cut to the cgroup quota), at least one.
llama.cpp's threads spin while they wait for each other, so a busy machine collapses them: on
this 2-core machine under a load of 4, one thread decoded 30-40 tokens/s where two gave 5-11.
"""

from __future__ import annotations

import atexit
import codecs
import ctypes
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kubetrainer.errors import UserError
from kubetrainer.generation import chat
from kubetrainer.generation.chat import Messages
from kubetrainer.generation.engine import BASE_ADAPTER, Generation, TokenLogprob, UnknownAdapter, Unsupported
from kubetrainer.generation.params import SamplingParams
from kubetrainer.generation.stops import StopTrimmer
from kubetrainer.train import gguf_lora

MISSING_WHEEL = ("llama-cpp-python is not installed: `make setup-test` installs the cached wheel from "
                 "$KUBETRAINER_CACHE/wheels (or starts building it in the background)")
_END = object()
NUCLEUS_CANDIDATES = 256  # tokens partially sorted for top-p before falling back to a full sort


def import_llama() -> Any:
    """llama_cpp.Llama, or an ImportError that says how to get it."""
    try:
        from llama_cpp import Llama
    except ImportError as error:
        raise ImportError(MISSING_WHEEL) from error
    return Llama


def cpu_budget() -> int:
    """The CPUs this process may use: its affinity, cut to the cgroup v2 quota when there is one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


class LlamaCppEngine:
    """`Engine` over a `llama_cpp.Llama` and the model's HF tokenizer (which renders chats)."""

    bans_repeated_ngrams = True

    def __init__(self, llama: Any, tokenizer: Any, gguf: Path) -> None:
        self.llama = llama
        self.tokenizer = tokenizer
        self.gguf = gguf
        self.context_length = int(llama.n_ctx())
        self._lock = threading.Lock()
        self._adapters: dict[str, Any] = {}  # name: llama.cpp's adapter handle; replaced whole on a change
        self._active: str | None = None  # the adapter set on the context now (None: the base)

    @classmethod
    def load(cls, gguf: Path, tokenizer: Any, *, n_ctx: int = 0, threads: int | None = None,
             adapters: Mapping[str, Path] | None = None) -> LlamaCppEngine:
        """The engine over `gguf` (n_ctx 0: the model's trained context; threads None: half the CPU budget),
        with `adapters` (name: PEFT adapter directory or GGUF LoRA file) loaded."""
        threads = threads or max(1, cpu_budget() // 2)
        llama = import_llama()(model_path=str(gguf), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                               verbose=False)
        atexit.register(llama.close)  # before interpreter teardown, where llama-cpp-python's __del__ fails noisily
        engine = cls(llama, chat.carry_template(tokenizer), Path(gguf))
        for name, path in (adapters or {}).items():
            engine.load_adapter(name, Path(path))
        return engine

    def load_adapter(self, name: str, path: Path) -> None:
        """Loads the adapter at `path` under `name`: a PEFT directory is converted for this model first."""
        import llama_cpp

        with tempfile.TemporaryDirectory(prefix="kubetrainer-lora-") as scratch:
            lora = path if path.suffix == ".gguf" else gguf_lora.write_lora_gguf(path, self.gguf,
                                                                              Path(scratch) / "adapter.gguf")
            handle = llama_cpp.llama_adapter_lora_init(self.llama._model.model, str(lora).encode())  # reads it whole
        if not handle:
            raise UserError(f"llama.cpp could not load this adapter onto {self.gguf.name}", where=path,
                            expected="a LoRA adapter trained on this model (llama.cpp checks each tensor's shape)")
        with self._lock:
            self._adapters = {**self._adapters, name: handle}

    def remove_adapter(self, name: str) -> None:
        """Stops applying the adapter `name` and frees it, once the request in flight has ended."""
        import llama_cpp

        with self._lock:
            if name not in self._adapters:
                raise UnknownAdapter(f"no adapter '{name}' is loaded")
            if self._active == name:
                self._use(None)
            handle = self._adapters[name]
            self._adapters = {key: value for key, value in self._adapters.items() if key != name}
        llama_cpp.llama_adapter_lora_free(handle)

    def _use(self, adapter: str | None) -> None:
        """Sets `adapter` (None or BASE_ADAPTER: the base) on the context; a change drops the KV cache (lock held)."""
        import llama_cpp

        wanted = None if adapter in (None, BASE_ADAPTER) else adapter
        if wanted is not None and wanted not in self._adapters:
            raise UnknownAdapter(f"no adapter '{wanted}' is loaded; loaded: {', '.join(self._adapters) or 'none'}")
        if wanted == self._active:
            return
        handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._adapters[wanted]) if wanted else None
        if llama_cpp.llama_set_adapters_lora(self.llama._ctx.ctx, handles, 1 if wanted else 0,
                                             (ctypes.c_float * 1)(1.0) if wanted else None):
            raise Unsupported(f"llama.cpp could not apply the adapter '{wanted}'")
        self.llama.reset()  # the cached prefix was computed with the other weights
        self._active = wanted

    @property
    def vocab_size(self) -> int:
        return int(self.llama.n_vocab())

    def chat_ids(self, messages: Messages) -> list[int]:
        return self._tokenize(chat.render(self.tokenizer, messages), special=True)

    def encode(self, text: str) -> list[int]:
        """As the HF tokenizer encodes plain text: BOS only when the model adds one."""
        return self._tokenize(text, special=False, bos=bool(getattr(self.tokenizer, "add_bos_token", False)))

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, token_ids: list[int]) -> str:
        return self.llama.detokenize(list(token_ids), special=True).decode("utf-8", errors="replace")

    def generate(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
                 cancel: threading.Event | None = None) -> Generation:
        pieces: list[str] = []
        logprobs: list[TokenLogprob] | None = [] if params.top_logprobs is not None else None
        tokens, finish = self._decode(prompt_ids, params, adapter, cancel or threading.Event(), pieces.append, logprobs)
        return Generation("".join(pieces), len(prompt_ids), tokens, finish, logprobs)

    def stream(self, prompt_ids: list[int], params: SamplingParams, *, adapter: str | None = None,
               cancel: threading.Event | None = None) -> LlamaCppTokenStream:
        return LlamaCppTokenStream(self, prompt_ids, params, adapter, cancel or threading.Event())

    def prompt_logprobs(self, prompt_ids: list[int], top_n: int, *, adapter: str | None = None) -> list[TokenLogprob]:
        scored = [TokenLogprob(self.decode(prompt_ids[:1]), float("nan"))]
        with self._lock:
            self._use(adapter)
            self.llama.reset()
            try:
                for index, token in enumerate(prompt_ids[:-1]):
                    self.llama.eval([token])
                    scored.append(self._logprob(prompt_ids[index + 1], self._last_logits(), top_n))
            finally:
                self.llama.reset()
        return scored

    def _tokenize(self, text: str, *, special: bool, bos: bool = False) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=bos, special=special))

    def _is_end(self, token: int) -> bool:
        from llama_cpp import llama_vocab_is_eog

        return bool(llama_vocab_is_eog(self.llama._model.vocab, token))

    def _last_logits(self) -> np.ndarray:
        row = self.llama._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(row, shape=(self.vocab_size,)).astype(np.float64)

    def _prefill(self, prompt_ids: list[int]) -> None:
        """Evaluates the prompt, reusing the KV cache of the longest prefix it shares with the last one."""
        cached = list(self.llama.input_ids[: self.llama.n_tokens])
        shared = 0
        for old, new in zip(cached, prompt_ids):
            if old != new:
                break
            shared += 1
        shared = min(shared, len(prompt_ids) - 1)  # at least one token to evaluate, for fresh logits
        if shared <= 0:
            self.llama.reset()
        else:
            self.llama.n_tokens = shared  # `eval` drops the cache beyond it
        self.llama.eval(prompt_ids[shared:])

    def _tokens(self, prompt_ids: list[int], params: SamplingParams, cancel: threading.Event,
                logprobs: list[TokenLogprob] | None) -> Iterator[int]:
        """The completion's token ids, picked one at a time (call with the lock held)."""
        if not prompt_ids:
            raise Unsupported("an empty prompt")
        rng = np.random.default_rng(params.seed)
        history = list(prompt_ids)
        self._prefill(prompt_ids)
        for step in range(params.max_new_tokens):
            if step and cancel.is_set():
                return
            logits = self._last_logits()
            token = _pick(logits, history, len(prompt_ids), params, rng)
            if logprobs is not None:
                logprobs.append(self._logprob(token, logits, params.top_logprobs or 0))
            history.append(token)
            yield token
            if self._is_end(token) or step == params.max_new_tokens - 1:
                return
            self.llama.eval([token])

    def _decode(self, prompt_ids: list[int], params: SamplingParams, adapter: str | None, cancel: threading.Event,
                emit: Callable[[str], Any], logprobs: list[TokenLogprob] | None) -> tuple[int, str]:
        """Generates, emitting text deltas (stop sequences held back and cut); returns (tokens, finish_reason)."""
        trimmer = StopTrimmer(list(params.stop))
        text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        count, last = 0, None
        with self._lock:
            self._use(adapter)
            try:
                for token in self._tokens(prompt_ids, params, cancel, logprobs):
                    count, last = count + 1, token
                    piece = self.llama.detokenize([token], special=False)
                    emitted = trimmer.feed(text.decode(piece))
                    if emitted:
                        emit(emitted)
                    if trimmer.stopped:
                        break
            except BaseException:
                self.llama.reset()  # a half-evaluated batch leaves the cache unknown
                raise
        tail = trimmer.feed(text.decode(b"", final=True))
        tail += trimmer.flush()
        if tail:
            emit(tail)
        stopped = trimmer.stopped or (last is not None and self._is_end(last))
        return count, "stop" if stopped else "length"

    def _logprob(self, token: int, logits: np.ndarray, top_n: int) -> TokenLogprob:
        logprobs = logits - np.logaddexp.reduce(logits)
        top = []
        if top_n:
            best = np.argpartition(-logprobs, top_n - 1)[:top_n]
            best = best[np.argsort(-logprobs[best])]
            top = [(self.decode([int(i)]), float(logprobs[i])) for i in best]
        return TokenLogprob(self.decode([token]), float(logprobs[token]), top)


def _pick(logits: np.ndarray, history: list[int], prompt_length: int, params: SamplingParams,
          rng: np.random.Generator) -> int:
    """The next token: penalties and the repetition guard as the transformers engine applies them, then greedy or a draw."""
    scores = logits.copy()
    if params.repetition_penalty != 1.0:  # transformers' RepetitionPenaltyLogitsProcessor, over prompt and completion
        seen = np.unique(history)
        scores[seen] = np.where(scores[seen] < 0, scores[seen] * params.repetition_penalty,
                                scores[seen] / params.repetition_penalty)
    if params.no_repeat_ngram_size:
        banned = _repeated_ngram_ends(history, params.no_repeat_ngram_size)
        if banned:
            scores[banned] = -np.inf
    completion = history[prompt_length:]
    if completion and (params.frequency_penalty or params.presence_penalty):
        ids, counts = np.unique(completion, return_counts=True)
        scores[ids] -= counts * params.frequency_penalty + params.presence_penalty
    if params.temperature <= 0:
        return int(np.argmax(scores))
    scores = scores / params.temperature
    probabilities = _softmax(scores)
    if params.top_p < 1.0:
        probabilities = _nucleus(probabilities, params.top_p)
    return int(rng.choice(len(probabilities), p=probabilities))


def _nucleus(probabilities: np.ndarray, top_p: float) -> np.ndarray:
    """`probabilities` cut to the most likely tokens until they reach `top_p`, renormalised.

    Sorting the whole vocabulary per token costs more than a small model's decoding step, so the
    candidates come from a partial sort of the NUCLEUS_CANDIDATES likeliest; when those do not
    reach `top_p`, every token is sorted (the same set either way)."""
    order = None
    if len(probabilities) > NUCLEUS_CANDIDATES:
        top = np.argpartition(-probabilities, NUCLEUS_CANDIDATES - 1)[:NUCLEUS_CANDIDATES]
        if probabilities[top].sum() >= top_p:
            order = top[np.argsort(-probabilities[top])]
    if order is None:
        order = np.argsort(-probabilities)
    ranked = probabilities[order]
    inside = order[np.cumsum(ranked) - ranked < top_p]
    kept = np.zeros_like(probabilities)
    kept[inside] = probabilities[inside]
    return kept / kept.sum()


def _softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - np.max(scores))
    return exp / exp.sum()


def _repeated_ngram_ends(history: list[int], size: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `history` (transformers' no_repeat_ngram_size)."""
    if len(history) < size:
        return []
    prefix = history[len(history) - size + 1:]
    return [history[start + size - 1] for start in range(len(history) - size + 1)
            if history[start:start + size - 1] == prefix]


class LlamaCppTokenStream:
    """`TokenStream` for `LlamaCppEngine`: decoding in a thread, its deltas through a queue.

    A consumer that stops iterating (a client gone) sets `cancel`, so the thread ends within one token.
    """

    def __init__(self, engine: LlamaCppEngine, prompt_ids: list[int], params: SamplingParams, adapter: str | None,
                 cancel: threading.Event) -> None:
        # an unknown adapter is refused when iteration starts (`_decode`), not here: the server holds a slot by now
        self.prompt_tokens = len(prompt_ids)
        self.completion_tokens = 0
        self.finish_reason = "length"
        self._cancel = cancel
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(engine, prompt_ids, params, adapter), daemon=True)

    def _run(self, engine: LlamaCppEngine, prompt_ids: list[int], params: SamplingParams, adapter: str | None) -> None:
        try:
            self.completion_tokens, self.finish_reason = engine._decode(prompt_ids, params, adapter, self._cancel,
                                                                        self._queue.put, None)
        except BaseException as error:  # re-raised in the consumer's thread
            self._error = error
        finally:
            self._queue.put(_END)

    def __iter__(self) -> Iterator[str]:
        self._thread.start()
        try:
            while (delta := self._queue.get()) is not _END:
                yield delta
        finally:
            self._cancel.set()
            self._thread.join()
        if self._error is not None:
            raise self._error
