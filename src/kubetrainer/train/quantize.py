"""Quantize a GGUF with llama.cpp's own quantizer, through llama-cpp-python.

The quantized formats are llama.cpp's (block layouts, which tensors get which type in q4_k_m's
mix), so llama.cpp is the one to write them: `llama_model_quantize` with its default parameters
and the file type asked for. f32 and f16 need no llama.cpp (`train.gguf_convert` writes them),
so an export at those precisions works where llama-cpp-python is not installed.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path

from kubetrainer.errors import UserError

# --quant -> the llama_ftype constant of llama-cpp-python (None: written by our converter).
QUANTS: dict[str, str | None] = {
    "f32": None,
    "f16": None,
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
}


def check_quant(quant: str) -> str:
    """The lower-cased quant name, or a UserError listing the known ones."""
    name = quant.lower()
    if name not in QUANTS:
        raise UserError(f"unknown quantization {quant!r}", where="--quant", expected=" | ".join(QUANTS))
    return name


def needs_llama_cpp(quant: str) -> bool:
    return QUANTS[quant] is not None


def require_llama_cpp(what: str) -> None:
    """A UserError (exit 2) that says how to get llama-cpp-python, when it is not importable."""
    from kubetrainer.generation.engines import llamacpp_installed
    from kubetrainer.generation.llamacpp import MISSING_WHEEL

    if not llamacpp_installed():
        raise UserError(MISSING_WHEEL, where=what)


def quantize(source: Path, target: Path, quant: str, *, threads: int) -> None:
    """Write `source` (an f32/f16 GGUF) quantized to `quant` at `target`, with llama.cpp's defaults."""
    require_llama_cpp(f"--quant {quant}")
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTS[quant])
    params.nthread = threads
    with stderr_aside() as log:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
        last = " | ".join(log()[-3:]) if status != 0 else ""
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {quant} (status {status}): {last}")


@contextmanager
def stderr_aside() -> Iterator[Callable[[], list[str]]]:
    """stderr kept aside while llama.cpp quantizes, yielding what reads it back as lines (under --debug: left alone).

    The quantizer logs every tensor, and warns for each whose rows do not fit a block size (576 columns
    and q4_K's 256, for SmolLM2): through llama-cpp-python's log callback, which prints to `sys.stderr`,
    and from native code on file descriptor 2. Both are pointed at one temporary file.
    """
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield lambda: []
        return
    with tempfile.TemporaryFile() as kept, open(kept.fileno(), "w", encoding="utf-8", closefd=False) as text:

        def lines() -> list[str]:
            text.flush()
            kept.seek(0)
            return kept.read().decode("utf-8", errors="replace").splitlines()

        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(kept.fileno(), 2)
        try:
            with redirect_stderr(text):
                yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
