"""One copy of each model per process, with every adapter loaded onto that one base.

Weights dominate a server's memory, so two apps (or two requests) asking for the
same model and adapters share one `LoadedModel`. Adapters are PEFT LoRA adapters
attached to the same base under their own names and picked per request with
PEFT's `adapter_names` (no global "active adapter" that concurrent requests
would fight over). Which engine runs the model is decided by `generation.engines`;
the llama.cpp engine holds no transformers model, and refuses adapters with a 400. The vLLM
engine holds no model in this process either: it starts vLLM's server on the model's directory,
with every adapter as a LoRA module picked per request by name, and stops it when we exit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubetrainer.errors import UserError
from kubetrainer.generation.engine import BASE_ADAPTER
from kubetrainer.serve.errors import APIError

if TYPE_CHECKING:
    from kubetrainer.generation.engine import Engine

_LOADED: dict[tuple[str | None, tuple[str, ...], str], "LoadedModel"] = {}
_LOCK = threading.Lock()


def adapter_name(path: Path) -> str:
    """The id an adapter is served under: its run id for `runs/<id>/final`, else the directory name."""
    path = Path(path)
    if path.name in ("final", "latest") or path.name.startswith("checkpoint"):
        return f"{path.parent.name}-{path.name}" if path.name != "final" else path.parent.name
    return path.name


@dataclass
class LoadedModel:
    """A base model and tokenizer with zero or more named adapters."""

    model_id: str
    model: Any
    tokenizer: Any
    adapters: tuple[str, ...] = ()
    created: int = field(default_factory=lambda: int(time.time()))
    engine_name: str = "transformers"  # or "llamacpp" / "vllm" (then `model` is None; `gguf` / `weights` is what runs)
    gguf: Path | None = None
    weights: Path | None = None  # vllm: the model directory vLLM loads
    adapter_dirs: tuple[Path, ...] = ()  # vllm: each adapter's directory, in the order of `adapters`

    @cached_property
    def engine(self) -> Engine:
        """The generation engine every route and the phrasing step use (`generation.hf`, `.llamacpp` or `.vllm`)."""
        if self.engine_name == "vllm":
            from kubetrainer.generation.vllm import VLLMEngine

            assert self.weights is not None
            return VLLMEngine.start(self.weights, self.tokenizer, served_name=self.model_id,
                                    adapters=dict(zip(self.adapters, self.adapter_dirs)))
        if self.engine_name == "llamacpp":
            from kubetrainer.generation.llamacpp import LlamaCppEngine

            assert self.gguf is not None
            return LlamaCppEngine.load(self.gguf, self.tokenizer)
        from kubetrainer.generation.hf import TransformersEngine

        return TransformersEngine(self.model, self.tokenizer)

    @property
    def model_ids(self) -> list[str]:
        return [self.model_id, *self.adapters]

    def adapter_for(self, requested: str) -> str | None:
        """The adapter a request's `model` names: None for the base, 404 for an unknown id."""
        if requested == self.model_id:
            return BASE_ADAPTER if self.adapters and self.engine_name != "llamacpp" else None
        if requested in self.adapters and self.engine_name == "llamacpp":
            raise APIError(400, f"The model '{requested}' is a PEFT LoRA adapter, and the llama.cpp engine applies "
                           "GGUF adapters only (converting adapters to GGUF is a later step); serve it with "
                           "--engine transformers", param="model", code="adapter_unsupported")
        if requested in self.adapters:
            return requested
        raise APIError(404, f"The model '{requested}' does not exist; served: {', '.join(self.model_ids)}",
                       param="model", code="model_not_found")


def _load_base(ref: str | None, models_dir: Path) -> tuple[Any, Any]:
    from kubetrainer.models.loader import load_causal_lm

    return load_causal_lm(ref, models_dir)


def _adapter_names(adapters: tuple[Path, ...]) -> tuple[str, ...]:
    names = tuple(adapter_name(path) for path in adapters)
    if len(set(names)) != len(names):
        raise UserError("two adapters would be served under the same name", where="--adapter",
                        expected=f"distinct directory names, got {', '.join(names)}")
    return names


def _attach_adapters(model: Any, adapters: tuple[Path, ...]) -> tuple[Any, tuple[str, ...]]:
    from peft import PeftModel

    names = _adapter_names(adapters)
    for path, name in zip(adapters, names):
        if isinstance(model, PeftModel):
            model.load_adapter(str(path), adapter_name=name)
        else:
            model = PeftModel.from_pretrained(model, str(path), adapter_name=name)
    return model, names


def _load_vllm(ref: str | None, adapters: tuple[Path, ...], models_dir: Path) -> LoadedModel:
    """The model's directory (downloaded or converted when needed) and tokenizer, served by vLLM started now."""
    from kubetrainer.generation.vllm import model_tokenizer
    from kubetrainer.models.loader import ADAPTER_CONFIG, resolve

    weights = resolve(ref, models_dir)
    if (weights / ADAPTER_CONFIG).is_file():
        raise UserError("vLLM serves a base model with its adapters beside it, not an adapter as the model",
                        where=weights, expected="--model BASE --adapter ADAPTER_DIR")
    loaded = LoadedModel(model_display_id(ref), None, model_tokenizer(weights), _adapter_names(adapters),
                         engine_name="vllm", weights=weights, adapter_dirs=tuple(Path(path) for path in adapters))
    loaded.engine  # noqa: B018 - start vLLM now, so a model it cannot serve fails at start-up
    return loaded


def model_display_id(ref: str | None) -> str:
    from kubetrainer.models.bundled import DEFAULT_LLM_ID

    if ref is None:
        return DEFAULT_LLM_ID
    return Path(ref).name if Path(ref).exists() else ref


def load_model(ref: str | None, adapters: tuple[Path, ...], models_dir: Path, engine: str = "transformers") -> LoadedModel:
    """The process-wide `LoadedModel` for this base, adapters and engine (`generation.engines`), loaded on first use."""
    from kubetrainer.generation.engines import choose_engine, gguf_tokenizer

    name, gguf = choose_engine(engine, ref, adapters=tuple(adapters))
    key = (ref, tuple(str(Path(path).resolve()) for path in adapters), name)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if name == "vllm":
            _LOADED[key] = _load_vllm(ref, tuple(adapters), models_dir)
        elif gguf is not None:
            names = tuple(adapter_name(path) for path in adapters)
            loaded = LoadedModel(model_display_id(ref), None, gguf_tokenizer(ref, gguf, models_dir), names,
                                 engine_name=name, gguf=gguf)
            loaded.engine  # noqa: B018 - load the weights now, so a bad GGUF fails at start-up
            _LOADED[key] = loaded
        else:
            model, tokenizer = _load_base(ref, models_dir)
            model, names = _attach_adapters(model, tuple(adapters)) if adapters else (model, ())
            model.eval()
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            _LOADED[key] = LoadedModel(model_display_id(ref), model, tokenizer, names)
        return _LOADED[key]
