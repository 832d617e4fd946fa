"""`kubetrainer load` as Python: find the hardware, choose a model, acquire it.

    budgets = find_budgets(gpu_memory="24GiB", gpus=1)
    selection = plan("lora", budgets, models_dir=home / "models")
    acquired = acquire(selection, home / "models")     # a local HF directory

Acquisition downloads the chosen model into `<home>/models/`. When the choice is the
default (nothing larger fits), or the Hub cannot be reached while choosing
automatically, the bundled SmolLM2-135M-Instruct is used instead, converted once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kubetrainer.errors import Unavailable, UserError
from kubetrainer.models import bundled, hub
from kubetrainer.models.catalog import ModelSpec, find, load_catalog, spec_from_dir, spec_from_hf_config
from kubetrainer.models.hardware_budget import Budget, from_detection, override
from kubetrainer.models.select import Selection, select


@dataclass(frozen=True)
class Acquired:
    """Where the model ended up, and why it is not the chosen one when it is not."""

    path: Path
    model_id: str
    fallback_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "id": self.model_id, "fallback": self.fallback_reason}


def find_budgets(
    *,
    gpu_memory: str | None = None,
    gpus: int | None = None,
    source: str | Path | None = None,
    kubeconfig: str | None = None,
) -> list[Budget]:
    """The flags' budget, else every device group `hardware.detect` finds (RAM when no GPU).

    A GPU count alone plans for nothing (the detected GPUs have their own count), so it is refused.
    """
    if gpu_memory is not None:
        return [override(gpu_memory, 1 if gpus is None else gpus)]
    if gpus is not None:
        raise UserError("a GPU count needs a GPU size to plan for", where="--gpus",
                        expected="--gpu-memory SIZE as well (e.g. --gpu-memory 24GiB --gpus 4), or neither to detect")
    from kubetrainer.hardware import detect

    return from_detection(detect(source=source, kubeconfig=kubeconfig))


def model_spec(ref: str, *, token: str | None = None) -> ModelSpec:
    """The shape of `ref`: a catalog entry, a local model directory, or a Hub id's config.json."""
    entry = find(load_catalog(), ref)
    if entry is not None:
        return entry
    path = Path(ref).expanduser()
    if path.is_dir():
        return spec_from_dir(path)
    if not hub.is_hub_id(ref):
        raise UserError(
            "not a catalog name, model directory or Hub id",
            where=ref,
            expected="a name from `kubetrainer load --dry-run`, a directory with config.json, or org/name",
        )
    return spec_from_hf_config(hub.fetch_config(ref, token=token), ref)


def plan(
    task: str,
    budgets: list[Budget],
    *,
    model: str | None = None,
    token: str | None = None,
    **workload_options: Any,
) -> Selection:
    """Judge the catalog (or the one forced `model`, chosen even when it does not fit) on the best budget."""
    token = hub.token_from_env(token)
    if model is not None:
        selection = select(task, budgets, (model_spec(model, token=token),), **workload_options)
        return replace(selection, chosen=selection.candidates[0])
    return select(task, budgets, load_catalog(), allow_gated=token is not None, **workload_options)


# How each inference quantization is served on an edge GPU: `kubetrainer export --gguf --quant` for llama.cpp.
GGUF_QUANT = {"int8": "q8_0", "int4": "q4_k_m"}
CLASS_UP = 1.5  # a quantized plan is worth naming when its model has this many times the parameters


def quantized_alternative(selection: Selection, budgets: list[Budget], *, allow_gated: bool,
                          **workload_options: Any) -> Selection | None:
    """For inference at full precision, the plan with quantized weights when it picks a model a class bigger
    (CLASS_UP times the parameters) than `selection` does: the bigger of int8 and int4, int8 when they pick the same
    (it costs less quality). None when neither does."""
    if selection.task != "inference" or workload_options.get("quantization"):
        return None
    current = selection.chosen.spec.params if selection.chosen and selection.chosen.fits else 0
    best: Selection | None = None
    for quantization in GGUF_QUANT:
        quantized = select("inference", budgets, load_catalog(), allow_gated=allow_gated,
                           **{**workload_options, "quantization": quantization})
        found = quantized.chosen
        if found and found.fits and found.spec.params >= CLASS_UP * current and (
                best is None or best.chosen is None or found.spec.params > best.chosen.spec.params):
            best = quantized
    return best


DISTILL_RATIO = 3  # a teacher worth distilling has at least this many times the student's parameters


def distillation_teacher(selection: Selection) -> ModelSpec | None:
    """For inference, the model to distil into the chosen one (`kubetrainer distill`): the smallest of its family with
    the same vocabulary (so their distributions compare token by token) and DISTILL_RATIO times its parameters that
    does not fit here, not gated behind a missing token. None when the family has no such model."""
    chosen = selection.chosen
    if selection.task != "inference" or chosen is None or not chosen.fits:
        return None
    student = chosen.spec
    teachers = [candidate.spec for candidate in selection.candidates
                if not candidate.fits and "gated" not in candidate.reason and candidate.spec.family == student.family
                and candidate.spec.vocab_size == student.vocab_size and candidate.spec.params >= DISTILL_RATIO * student.params]
    return min(teachers, key=lambda spec: spec.params, default=None)


def acquire(selection: Selection, models_dir: Path, *, forced: bool = False, token: str | None = None) -> Acquired:
    """Download the chosen model (or reuse it), falling back to the bundled default.

    A forced model (`--model`) is fetched even when it does not fit here (it may run
    elsewhere), and failing to fetch it is an error; an automatic choice falls back
    to the bundled default, so `load` works offline.
    """
    chosen = selection.chosen
    if chosen is None:
        return _bundled(models_dir, "no catalog model fits this hardware")
    spec = chosen.spec
    if spec.hub_id == bundled.DEFAULT_LLM_ID:
        return _bundled(models_dir, None)
    local = Path(spec.hub_id).expanduser()
    if local.is_dir():
        return Acquired(local, spec.hub_id)
    try:
        return Acquired(hub.download(spec.hub_id, models_dir, token=token), spec.hub_id)
    except Unavailable as error:
        if forced:
            raise
        return _bundled(models_dir, f"{spec.hub_id} could not be downloaded: {error.what}")


def _bundled(models_dir: Path, reason: str | None) -> Acquired:
    return Acquired(bundled.ensure_default_llm(models_dir), bundled.DEFAULT_LLM_ID, reason)
