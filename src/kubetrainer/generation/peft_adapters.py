"""PEFT LoRA adapters put on and taken off a transformers model while it serves.

A served model holds its adapters side by side (PEFT's `adapter_names` picks one per request), so
adding or removing one changes modules that running generations read. `AdapterLock` lets any number
of generations run together and an adapter change run alone: the change waits for the generations
in flight to end and holds back new ones until it is done, so no request sees half an adapter.

A model without adapters is the plain transformers model; the first adapter wraps it in a PEFT model
and removing the last one unwraps it again, so "no adapters" always means exactly the base. A load
that fails (an adapter made for another base: its shapes do not fit) leaves nothing of itself behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubetrainer.generation.engine import BASE_ADAPTER, UnknownAdapter


class AdapterMismatch(ValueError):
    """An adapter that cannot go on this base model (one line: why)."""


class AdapterLock:
    """Many generations at once, or one adapter change alone; a waiting change holds back new generations,
    so a busy server cannot put it off for ever."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generating = 0
        self._changing = False
        self._changes_waiting = 0

    @contextmanager
    def generating(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._changing and not self._changes_waiting)
            self._generating += 1
        try:
            yield
        finally:
            with self._condition:
                self._generating -= 1
                self._condition.notify_all()

    @contextmanager
    def changing(self) -> Iterator[None]:
        with self._condition:
            self._changes_waiting += 1
            self._condition.wait_for(lambda: not self._changing and not self._generating)
            self._changes_waiting -= 1
            self._changing = True
        try:
            yield
        finally:
            with self._condition:
                self._changing = False
                self._condition.notify_all()


def is_peft(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def adapter_names(model: Any, adapter: str | None) -> list[str] | None:
    """PEFT's `adapter_names` for a request on `model` as it is now: None runs the model as loaded, the base needs
    none on a plain model; an adapter the model does not hold (removed since the request was admitted) is refused."""
    if adapter is None or (adapter == BASE_ADAPTER and not is_peft(model)):
        return None
    if adapter != BASE_ADAPTER and (not is_peft(model) or adapter not in model.peft_config):
        raise UnknownAdapter(f"The model '{adapter}' does not exist (the adapter was removed)")
    return [adapter]


def attach(model: Any, name: str, path: Path) -> Any:
    """`model` with the adapter at `path` added under `name`: the plain model wrapped in a PEFT model, or a PEFT
    model with one more adapter. Raises `AdapterMismatch` with nothing of the adapter left on the model."""
    from peft import PeftConfig, PeftModelForCausalLM

    if is_peft(model):
        try:
            model.load_adapter(str(path), adapter_name=name)
        except (RuntimeError, ValueError) as error:
            if name in model.peft_config:
                model.delete_adapter(name)
            raise _mismatch(error) from error
        return model
    config = PeftConfig.from_pretrained(str(path))
    config.inference_mode = True
    try:
        wrapped = PeftModelForCausalLM(model, config, adapter_name=name)
    except ValueError as error:  # its target modules are not in this model; nothing was injected
        raise _mismatch(error) from error
    try:
        wrapped.load_adapter(str(path), adapter_name=name)
    except (RuntimeError, ValueError) as error:
        wrapped.unload()  # the LoRA layers out of the base model's modules again
        raise _mismatch(error) from error
    return wrapped


def detach(model: Any, name: str) -> Any:
    """`model` without the adapter `name`: the last one removed gives the plain model back."""
    if list(model.peft_config) == [name]:
        return model.unload()
    model.delete_adapter(name)
    return model


def _mismatch(error: Exception) -> AdapterMismatch:
    """PEFT's error in one line: the first shape that does not fit, or its own first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    sizes = [line for line in lines if line.startswith("size mismatch")]
    return AdapterMismatch(sizes[0] if sizes else (lines[0] if lines else type(error).__name__))
