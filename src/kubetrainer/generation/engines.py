"""Which engine serves a model: the one place that decides (`kubetrainer serve --engine`).

- `transformers`: the reference engine (`generation.hf`), every model, PEFT adapters per request.
- `llamacpp`: llama.cpp (`generation.llamacpp`) over the model's GGUF: the bundled SmolLM2 GGUF for
  the default model, a `.gguf` file, or a directory holding one. Needs llama-cpp-python.
- `vllm`: vLLM's OpenAI server as a child process (`generation.vllm`), for CUDA GPUs: the model's
  directory with every adapter as a LoRA module. Needs vllm importable, or `KUBETRAINER_VLLM_COMMAND`
  naming another way to start it (`generation.vllm_process`).
- `auto`: vLLM when vllm is importable and a CUDA GPU is present; else llama.cpp when
  llama-cpp-python is importable, the model has a GGUF, no CUDA GPU is present (llama.cpp here is a
  CPU build) and every adapter is one llama.cpp can apply (plain LoRA, `train.gguf_lora`); else
  transformers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.train import gguf_lora

ENGINES = ("auto", "transformers", "llamacpp", "vllm")
TRANSFORMERS, LLAMACPP, VLLM = "transformers", "llamacpp", "vllm"


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def find_gguf(ref: str | None) -> Path | None:
    """The GGUF file of model `ref` (None: the bundled default), or None when it has none."""
    from kubetrainer.models import bundled

    if ref is None or ref == bundled.DEFAULT_LLM_ID:
        try:
            return bundled.smollm2_gguf_path()
        except Unavailable:
            return None
    path = Path(ref).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) > 1:
        raise UserError("the model directory holds several GGUF files", where=path,
                        expected="one .gguf file; name the file itself with --model")
    return found[0] if found else None


def choose_engine(requested: str, ref: str | None, *, adapters: tuple[Any, ...] = ()) -> tuple[str, Path | None]:
    """The engine that serves `ref` (`transformers`, `llamacpp` or `vllm`) and, for llama.cpp, the GGUF it runs."""
    if requested not in ENGINES:
        raise UserError(f"unknown engine {requested!r}", where="--engine", expected=" | ".join(ENGINES))
    if requested == TRANSFORMERS:
        return TRANSFORMERS, None
    if requested == VLLM:
        from kubetrainer.generation.vllm_process import COMMAND_ENV, command_override

        if not vllm_installed() and command_override() is None:
            raise UserError(f"vLLM is not installed here (it needs a CUDA GPU: pip install vllm there), and "
                            f"{COMMAND_ENV} names no other command that starts it", where="--engine vllm")
        return VLLM, None
    if requested == LLAMACPP:
        if not llamacpp_installed():
            from kubetrainer.generation.llamacpp import MISSING_WHEEL

            raise UserError(MISSING_WHEEL, where="--engine llamacpp")
        gguf = find_gguf(ref)
        if gguf is None:
            raise UserError("this model has no GGUF file for llama.cpp", where=ref or "--model",
                            expected="the bundled model, a .gguf file, or a directory holding one",
                            hint="or serve it with --engine transformers")
        return LLAMACPP, gguf
    if vllm_installed() and _cuda():
        return VLLM, None
    appliable = all(gguf_lora.appliable(Path(adapter)) for adapter in adapters)
    gguf = find_gguf(ref) if llamacpp_installed() and appliable else None
    if gguf is not None and not _cuda():
        return LLAMACPP, gguf
    return TRANSFORMERS, None


def gguf_tokenizer(ref: str | None, gguf: Path, models_dir: Path) -> Any:
    """The HF tokenizer that renders chats for a GGUF model, with the chat template every engine uses.

    A model directory's own tokenizer files first; else the bundled model's converted copy when it
    is there; else the GGUF's tokenizer, read out once (slow) into `<models>/gguf-tokenizers/`.
    """
    from transformers import AutoTokenizer

    from kubetrainer import atomic
    from kubetrainer.generation.chat import carry_template
    from kubetrainer.models import bundled
    from kubetrainer.models.loader import TOKENIZER_FILES

    directory = Path(ref).expanduser() if ref is not None else None
    if directory is not None and directory.is_dir() and any((directory / name).is_file() for name in TOKENIZER_FILES):
        return carry_template(AutoTokenizer.from_pretrained(directory))
    converted = bundled.default_llm_dir(models_dir)
    if (ref is None or ref == bundled.DEFAULT_LLM_ID) and bundled.is_current(converted, gguf):
        return carry_template(AutoTokenizer.from_pretrained(converted))
    cached = Path(models_dir) / "gguf-tokenizers" / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (cached / "tokenizer_config.json").is_file():
        with atomic.directory(cached) as staging:
            carry_template(AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)).save_pretrained(staging)
    return carry_template(AutoTokenizer.from_pretrained(cached))
