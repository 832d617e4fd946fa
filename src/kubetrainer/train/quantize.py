"""Quantize a GGUF with llama.cpp's own quantizer, through llama-cpp-python.

The quantized formats are llama.cpp's (block layouts, which tensors get which type in q4_k_m's
mix), so llama.cpp is the one to write them: `llama_model_quantize` with its default parameters
and the file type asked for. f32 and f16 need no llama.cpp (`train.gguf_convert` writes them),
so an export at those precisions works where llama-cpp-python is not installed.
"""

from __future__ import annotations

import logging
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


def quiet_llama_cpp() -> None:
    """llama.cpp logs every tensor through llama-cpp-python's logger, which prints unless told a level:
    errors only, unless the root logger is at DEBUG (`--debug`)."""
    debug = logging.getLogger().isEnabledFor(logging.DEBUG)
    logging.getLogger("llama-cpp-python").setLevel(logging.DEBUG if debug else logging.ERROR)


def quantize(source: Path, target: Path, quant: str, *, threads: int) -> None:
    """Write `source` (an f32/f16 GGUF) quantized to `quant` at `target`, with llama.cpp's defaults."""
    require_llama_cpp(f"--quant {quant}")
    import ctypes

    import llama_cpp

    quiet_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANTS[quant])
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")
