"""One copy of each model per process, with every adapter loaded onto that one base.

Weights dominate a server's memory, so two apps (or two requests) asking for the
same model and adapters share one `LoadedModel`. Adapters are PEFT LoRA adapters
attached to the same base under their own names and picked per request with
PEFT's `adapter_names` (no global "active adapter" that concurrent requests
would fight over). Which engine runs the model is decided by `generation.engines`;
the llama.cpp engine holds no transformers model: it converts each adapter to a GGUF LoRA and
applies the one a request names (one request at a time). The vLLM
engine holds no model in this process either: it starts vLLM's server on the model's directory,
with every adapter as a LoRA module picked per request by name, and stops it when we exit.

Adapters are also added and removed while the server runs (`add_adapter`, `remove_adapter`, behind
`serve.adapters`' routes), one change at a time. Each adapter has a revision, a digest of the files
PEFT reads, which the answer cache's key includes: an adapter loaded again under the same name with
other weights never gets the answers cached for the old ones.
"""

from __future__ import annotations

import hashlib
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
    adapters: tuple[str, ...] = ()  # replaced whole on a change, so a reader always sees one consistent set
    created: int = field(default_factory=lambda: int(time.time()))
    engine_name: str = "transformers"  # or "llamacpp" / "vllm" (then `model` is None; `gguf` / `weights` is what runs)
    gguf: Path | None = None
    weights: Path | None = None  # vllm: the model directory vLLM loads
    adapter_dirs: tuple[Path, ...] = ()  # each adapter's directory, in the order of `adapters`
    adapter_revisions: dict[str, str] = field(default_factory=dict)  # name: `adapter_revision`; replaced whole
    _changes: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.adapter_revisions:
            self.adapter_revisions = {name: adapter_revision(path) for name, path in zip(self.adapters, self.adapter_dirs)}

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
            return LlamaCppEngine.load(self.gguf, self.tokenizer, adapters=dict(zip(self.adapters, self.adapter_dirs)))
        from kubetrainer.generation.hf import TransformersEngine

        return TransformersEngine(self.model, self.tokenizer)

    @property
    def model_ids(self) -> list[str]:
        return [self.model_id, *self.adapters]

    def adapter_for(self, requested: str) -> str:
        """The adapter a request's `model` names (`BASE_ADAPTER` for the base, whatever adapters come later), 404 for
        an unknown id."""
        adapters = self.adapters
        if requested == self.model_id:
            return BASE_ADAPTER
        if requested in adapters:
            return requested
        raise APIError(404, f"The model '{requested}' does not exist; served: {', '.join(self.model_ids)}",
                       param="model", code="model_not_found")

    def add_adapter(self, name: str, path: Path) -> None:
        """Loads the adapter at `path` (`serve.adapters` checked it is one) onto the base, served as `name` from now on.

        The engine raises `AdapterMismatch` (transformers), `Unsupported` (vLLM refused it) or `UserError` (llama.cpp
        cannot apply it) when it cannot load.
        """
        with self._changes:
            if name in self.model_ids:
                raise APIError(409, f"name: '{name}' is already served; remove it first (DELETE /v1/adapters/{name})",
                               param="name", code="adapter_exists")
            revision = adapter_revision(path)
            self.engine.load_adapter(name, path)
            self.model = getattr(self.engine, "model", None)  # transformers: now a PEFT model
            self.adapter_revisions = {**self.adapter_revisions, name: revision}
            self.adapter_dirs = (*self.adapter_dirs, Path(path))
            self.adapters = (*self.adapters, name)

    def remove_adapter(self, name: str) -> None:
        """Stops serving the adapter `name`: new requests for it get 404 at once, the engine drops it once the
        generations in flight have ended."""
        with self._changes:
            if name == self.model_id:
                raise APIError(400, f"name: '{name}' is the base model; only adapters can be removed", param="name",
                               code="base_model")
            if name not in self.adapters:
                raise APIError(404, f"name: no adapter '{name}' is served; adapters: {', '.join(self.adapters) or 'none'}",
                               param="name", code="adapter_not_found")
            before = self.adapters
            self.adapters = tuple(adapter for adapter in before if adapter != name)
            try:
                self.engine.remove_adapter(name)
            except BaseException:
                self.adapters = before
                raise
            self.model = getattr(self.engine, "model", None)  # transformers: the plain model once the last one is gone
            self.adapter_dirs = tuple(path for adapter, path in zip(before, self.adapter_dirs) if adapter != name)
            self.adapter_revisions = {key: value for key, value in self.adapter_revisions.items() if key != name}


def adapter_revision(path: Path) -> str:
    """A digest of the files PEFT reads (`adapter_*`: its config and weights): the same adapter gives the same one in
    every replica, and other weights under the same name another."""
    digest = hashlib.sha256()
    for file in sorted(Path(path).glob("adapter_*")):
        if file.is_file():
            digest.update(file.name.encode() + b"\0")
            with file.open("rb") as handle:
                while chunk := handle.read(2**20):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


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
    from kubetrainer.generation.peft_adapters import AdapterMismatch, attach

    names = _adapter_names(adapters)
    for path, name in zip(adapters, names):
        try:
            model = attach(model, name, Path(path))
        except AdapterMismatch as error:
            raise UserError(f"the adapter does not fit this base model: {error}", where=path) from error
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
                                 engine_name=name, gguf=gguf, adapter_dirs=tuple(Path(path) for path in adapters))
            loaded.engine  # noqa: B018 - load the weights now, so a bad GGUF fails at start-up
            _LOADED[key] = loaded
        else:
            model, tokenizer = _load_base(ref, models_dir)
            model, names = _attach_adapters(model, tuple(adapters)) if adapters else (model, ())
            model.eval()
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            _LOADED[key] = LoadedModel(model_display_id(ref), model, tokenizer, names,
                                       adapter_dirs=tuple(Path(path) for path in adapters))
        return _LOADED[key]
