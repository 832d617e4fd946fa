"""Perplexity of an exported GGUF next to the transformers model it came from, on the same tokens.

What quantization costs is the gap between the two, so everything but the weights' format is
held equal: the text is tokenized once by the HF tokenizer and those very ids are fed to both
(llama.cpp never tokenizes), cut into the same windows (`evaluate.perplexity.windows`, stride =
window, so each token is predicted once), and scored by the same numpy code from each
engine's logits. llama.cpp returns every position's logits only from a context built with
`logits_all`; one such context of `window` tokens is reset per window.

The default text is cluster text no default-scenario run trains on: the log lines of the sample
generator's `heldout` scenario (`samples.heldout`), kept for evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kubetrainer.evaluate.perplexity import Perplexity, windows

Logits = Callable[[Sequence[int]], np.ndarray]  # token ids -> (len(ids), vocab) logits
WINDOW = 512
MAX_TOKENS = 4096  # enough for a stable estimate; llama.cpp's f16 on two CPU cores scores ~500 tokens/s
DEFAULT_LINES = 300


def default_text() -> str:
    """A few hundred log lines of the sample cluster's held-out scenario, in a fixed order."""
    from kubetrainer.samples.cluster import build_cluster

    cluster = build_cluster(seed=0, scenario="heldout")
    lines = [text for pod in cluster.pods for container in (*pod.init_containers, *pod.containers)
             for _, text in sorted(container.lines, key=lambda item: item[0])]
    return "\n".join(lines[:DEFAULT_LINES]) + "\n"


def eval_ids(tokenizer: Any, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
    """The text as the HF tokenizer encodes plain text (BOS when it adds one), cut to `max_tokens`."""
    return list(tokenizer(text)["input_ids"][:max_tokens])


def score(ids: Sequence[int], logits_of: Logits, window: int = WINDOW) -> Perplexity:
    """Perplexity of `ids` under `logits_of`, window by window; every token after the first is scored once."""
    nll_sum, tokens = 0.0, 0
    for span in windows(len(ids), window, stride=window):
        chunk = list(ids[span.begin:span.end])
        logits = np.asarray(logits_of(chunk), dtype=np.float64)[:-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        targets = np.asarray(chunk[1:])
        first = span.score_from - span.begin - 1  # logits[i] predicts token begin+i+1
        nll_sum -= float(log_probs[np.arange(first, len(targets)), targets[first:]].sum())
        tokens += len(targets) - first
    if tokens == 0:
        raise ValueError("no tokens to score: the evaluation text is shorter than two tokens")
    return Perplexity(perplexity=float(np.exp(nll_sum / tokens)), nll_sum=nll_sum, tokens=tokens)


def hf_logits(model: Any) -> Logits:
    """The transformers model's logits for a window of ids (no cache, eval mode)."""
    import torch

    def logits_of(ids: Sequence[int]) -> np.ndarray:
        with torch.no_grad():
            return model(input_ids=torch.tensor([list(ids)])).logits[0].float().numpy()

    model.eval()
    return logits_of


@contextmanager
def gguf_logits(path: Path, *, window: int = WINDOW, threads: int) -> Iterator[Logits]:
    """llama.cpp's logits for a window of ids, from a context that keeps every position's logits."""
    from kubetrainer.generation.llamacpp import import_llama

    llama = import_llama()(model_path=str(path), n_ctx=window, n_batch=window, n_ubatch=window, logits_all=True,
                           n_threads=threads, n_threads_batch=threads, verbose=False)

    def logits_of(ids: Sequence[int]) -> np.ndarray:
        llama.reset()
        llama.eval(list(ids))
        return np.array(llama.scores[:len(ids)])

    try:
        yield logits_of
    finally:
        llama.close()
