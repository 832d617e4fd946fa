"""Export a run's output: the adapter as is, merged into its base as a plain model directory, or as a GGUF.

A merged model needs neither PEFT nor the base at load time, so the loader, the server and
llama.cpp-style converters read it like any Hugging Face checkpoint. Either way the tokenizer
carries its chat template (the fallback of `generation.chat` for a base model without one).

`--gguf` is the edge export: an adapter is merged first, the model is converted by our own
converter (`train.gguf_convert`: Llama-family and Qwen2 models, f32 or f16), and quantized by
llama.cpp itself when asked for q8_0, q4_k_m or q4_0 (`train.quantize`, needs llama-cpp-python).
Then the quantized file is scored against the unquantized transformers model on the same token
ids of held-out cluster text (`train.gguf_eval`), so the report says what the size saved cost in
perplexity. The output directory gets the one GGUF and the tokenizer files (with the chat template
that `serve --engine llamacpp --model DIR` renders prompts with); it appears only when everything,
the measurement included, succeeded.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetrainer import atomic
from kubetrainer.errors import UserError
from kubetrainer.evaluate.perplexity import Perplexity
from kubetrainer.generation.chat import carry_template
from kubetrainer.train.paths import LATEST, resolve_checkpoint


def export(source: str | Path, out_dir: Path, *, runs_dir: Path, models_dir: Path, merge: bool) -> Path:
    """Write the model behind `source` (run, checkpoint, `.../latest`, adapter) to `out_dir`."""
    model_dir = resolve_checkpoint(source, runs_dir)
    is_adapter = (model_dir / "adapter_config.json").is_file()
    if merge and not is_adapter:
        raise UserError("--merge needs a LoRA adapter, and this is a full model", where=model_dir, expected="an adapter directory (adapter_config.json)")
    with atomic.entries(out_dir) as staging:
        if merge:
            model, tokenizer = _load_merged(model_dir, models_dir)
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        else:
            shutil.copytree(model_dir, staging, dirs_exist_ok=True)
            _carry_template(staging)
    return out_dir


@dataclass(frozen=True)
class GGUFExport:
    """What `export --gguf` wrote and what the quantization cost (perplexities None when not measured)."""

    path: Path
    quant: str
    size_bytes: int
    eval_text: str
    hf: Perplexity | None
    gguf: Perplexity | None

    @property
    def ratio(self) -> float | None:
        return self.gguf.perplexity / self.hf.perplexity if self.hf and self.gguf else None

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "quant": self.quant, "size_bytes": self.size_bytes, "eval_text": self.eval_text,
                "perplexity": {"transformers": self.hf.to_json() if self.hf else None,
                               "gguf": self.gguf.to_json() if self.gguf else None, "ratio": self.ratio}}


def export_gguf(source: str | Path, out_dir: Path, *, runs_dir: Path, models_dir: Path, quant: str,
                eval_text: Path | None, eval_tokens: int) -> GGUFExport:
    """Merge (an adapter), convert, quantize and score the model behind `source` into `out_dir`."""
    from kubetrainer.generation.llamacpp import cpu_budget
    from kubetrainer.train import gguf_convert, quantize

    quant = quantize.check_quant(quant)
    if quantize.needs_llama_cpp(quant):
        quantize.require_llama_cpp(f"--quant {quant}")
    text, text_name = _eval_text(eval_text)
    model_dir = _gguf_source(source, runs_dir, models_dir)
    if (model_dir / "config.json").is_file():  # refused before its weights load; an adapter's base once loaded
        gguf_convert.architecture(json.loads((model_dir / "config.json").read_text(encoding="utf-8")))
    model, tokenizer = _load_merged(model_dir, models_dir)
    threads = max(1, cpu_budget() // 2)
    with atomic.entries(out_dir) as staging:
        tokenizer.save_pretrained(staging)
        target = staging / f"model-{quant}.gguf"
        if quantize.needs_llama_cpp(quant):
            full = staging / ".model-f32.gguf"
            gguf_convert.write_gguf(model, tokenizer, staging, full, "f32")
            quantize.quantize(full, target, quant, threads=threads)
            full.unlink()
        else:
            gguf_convert.write_gguf(model, tokenizer, staging, target, quant)
        hf, scored = _score(model, tokenizer, target, text, eval_tokens, threads) if eval_tokens else (None, None)
        size = target.stat().st_size
    for earlier in out_dir.glob("model-*.gguf"):  # another quantization exported here before (--force): serve and
        if earlier.name != target.name:          # llama.cpp take a directory's one GGUF, so it would be refused
            earlier.unlink()
    return GGUFExport(out_dir / target.name, quant, size, text_name, hf, scored)


def _gguf_source(source: str | Path, runs_dir: Path, models_dir: Path) -> Path:
    """A run, checkpoint, adapter or model directory as `export` takes them; else a Hub id or catalog name
    (the bundled default among them, offline), resolved by the loader."""
    from kubetrainer.models.loader import resolve

    path = Path(source).expanduser()
    if path.exists() or path.name == LATEST:
        return resolve_checkpoint(path, runs_dir)
    return resolve(str(source), models_dir)


def _eval_text(path: Path | None) -> tuple[str, str]:
    """(text, what it is): the user's file, else the held-out sample cluster's log lines."""
    from kubetrainer.train.gguf_eval import default_text

    if path is None:
        return default_text(), "sample cluster, heldout scenario (log lines)"
    try:
        return Path(path).read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the evaluation text ({error})", where="--eval-text", expected="a UTF-8 text file") from None


def _score(model: Any, tokenizer: Any, gguf: Path, text: str, max_tokens: int,
           threads: int) -> tuple[Perplexity | None, Perplexity | None]:
    """Perplexity of the transformers model and of the GGUF on the same ids; (None, None) without llama.cpp."""
    from kubetrainer.generation.engines import llamacpp_installed
    from kubetrainer.train import gguf_eval

    if not llamacpp_installed():
        return None, None
    ids = gguf_eval.eval_ids(tokenizer, text, max_tokens)
    if len(ids) < 2:
        raise UserError("the evaluation text is shorter than two tokens", where="--eval-text", expected="some text")
    hf = gguf_eval.score(ids, gguf_eval.hf_logits(model))
    with gguf_eval.gguf_logits(gguf, threads=threads) as logits_of:
        return hf, gguf_eval.score(ids, logits_of)


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


def _load_merged(model_dir: Path, models_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) in float32, an adapter merged into its base: a plain transformers model either way."""
    import torch

    from kubetrainer.models.loader import load_causal_lm

    model, tokenizer = load_causal_lm(model_dir, models_dir, dtype=torch.float32)
    if (model_dir / "adapter_config.json").is_file():
        model = model.merge_and_unload()
    return model, tokenizer
