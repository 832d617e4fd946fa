"""Export a run's output: the adapter as is, or merged into its base as a plain model directory.

A merged model needs neither PEFT nor the base at load time, so the loader, the server and
llama.cpp-style converters read it like any Hugging Face checkpoint. Either way the tokenizer
carries its chat template (the fallback of `generation.chat` for a base model without one).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kubetrainer import atomic
from kubetrainer.errors import UserError
from kubetrainer.generation.chat import carry_template
from kubetrainer.train.paths import resolve_checkpoint


def export(source: str | Path, out_dir: Path, *, runs_dir: Path, models_dir: Path, merge: bool) -> Path:
    """Write the model behind `source` (run, checkpoint, `.../latest`, adapter) to `out_dir`."""
    model_dir = resolve_checkpoint(source, runs_dir)
    is_adapter = (model_dir / "adapter_config.json").is_file()
    if merge and not is_adapter:
        raise UserError("--merge needs a LoRA adapter, and this is a full model", where=model_dir, expected="an adapter directory (adapter_config.json)")
    with atomic.entries(out_dir) as staging:
        if merge:
            _merge(model_dir, models_dir, staging)
        else:
            shutil.copytree(model_dir, staging, dirs_exist_ok=True)
            _carry_template(staging)
    return out_dir


def _carry_template(directory: Path) -> None:
    """A copy of a checkpoint saved before the chat template travelled with it gets the fallback written in
    (`generation.chat`), so the exported model is rendered in the format it was trained in wherever it goes."""
    from kubetrainer.models.loader import TOKENIZER_FILES

    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        return  # an adapter without its own tokenizer: its base's is loaded (and given the template) with it
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    if not tokenizer.chat_template:
        carry_template(tokenizer).save_pretrained(directory)


def _merge(adapter_dir: Path, models_dir: Path, out_dir: Path) -> None:
    import torch

    from kubetrainer.models.loader import load_causal_lm

    model, tokenizer = load_causal_lm(adapter_dir, models_dir, dtype=torch.float32)
    merged = model.merge_and_unload()
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
