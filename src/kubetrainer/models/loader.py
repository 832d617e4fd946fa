"""One way for every stage (ask, train, serve, eval) to get a causal LM and its tokenizer.

`load_causal_lm(ref, models_dir)` accepts:
- None: the bundled default (SmolLM2-135M-Instruct, converted once from its GGUF);
- a local directory: a HF model (config.json) or a PEFT adapter (adapter_config.json),
  the adapter being loaded onto its base, itself resolved by these same rules;
- a Hub id `org/name` or a catalog name: the cached download under `<models>/`, else
  downloaded now. The default's Hub id falls back to the bundled copy when it is
  not downloaded, so it works offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubetrainer.errors import UserError
from kubetrainer.generation.chat import carry_template
from kubetrainer.models import bundled, hub

ADAPTER_CONFIG = "adapter_config.json"
DTYPES = ("auto", "float32", "bfloat16", "float16")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def resolve(ref: str | Path | None, models_dir: Path, *, token: str | None = None) -> Path:
    """The local directory `ref` names, downloading or converting it when needed."""
    if ref is None:
        return bundled.ensure_default_llm(models_dir)
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError("a model must be a directory", where=path, expected="a HF model or PEFT adapter directory")
        return path
    name = str(ref)
    repo_id = _catalog_hub_id(name) or name
    if not hub.is_hub_id(repo_id) or isinstance(ref, Path) or name.startswith((".", "/", "~")):
        raise UserError(
            "no such model directory, Hub id or catalog name",
            where=name,
            expected="a directory, an org/name Hub id, or a name from `kubetrainer load --dry-run`",
        )
    done = hub.cached(models_dir, repo_id)
    if done is not None:
        return done
    if repo_id == bundled.DEFAULT_LLM_ID:
        return bundled.ensure_default_llm(models_dir)
    return hub.download(repo_id, models_dir, token=token)


def _catalog_hub_id(name: str) -> str | None:
    from kubetrainer.models.catalog import find, load_catalog

    entry = find(load_catalog(), name)
    return entry.hub_id if entry else None


def torch_dtype(dtype: Any) -> Any:
    """A torch dtype (or "auto") from a torch dtype, a name like "bfloat16", or None (auto)."""
    import torch

    if dtype is None or dtype == "auto":
        return "auto"
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in DTYPES:
        return getattr(torch, dtype)
    raise UserError(f"unknown dtype {dtype!r}", where="dtype", expected=" | ".join(DTYPES))


def load_causal_lm(
    ref: str | Path | None,
    models_dir: Path,
    *,
    dtype: Any = None,
    device: str | None = None,
    token: str | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) for `ref` (see the module docstring), in eval mode.

    dtype None keeps the checkpoint's own dtype (float32 for the bundled default).
    """
    path = resolve(ref, models_dir, token=token)
    if (path / ADAPTER_CONFIG).is_file():
        model, tokenizer = _load_adapter(path, models_dir, dtype=dtype, token=token)
    elif (path / "config.json").is_file():
        model, tokenizer = _load_plain(path, dtype=dtype)
    else:
        raise UserError(
            "not a model directory",
            where=path,
            expected=f"config.json (a HF model) or {ADAPTER_CONFIG} (a PEFT adapter)",
        )
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer


def _load_plain(path: Path, *, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    with _model_errors(path):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype))
    return model, _load_tokenizer(path)


def _load_adapter(path: Path, models_dir: Path, *, dtype: Any, token: str | None) -> tuple[Any, Any]:
    from peft import PeftModel

    try:
        base_ref = json.loads((path / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"unreadable adapter config ({type(error).__name__}: {error})",
            where=path / ADAPTER_CONFIG,
            expected="PEFT adapter_config.json with base_model_name_or_path",
        ) from error
    base_path = resolve(base_ref, models_dir, token=token)
    base, base_tokenizer = _load_plain(base_path, dtype=dtype)
    with _model_errors(path):
        model = PeftModel.from_pretrained(base, path)
    has_own_tokenizer = any((path / name).is_file() for name in TOKENIZER_FILES)
    return model, _load_tokenizer(path) if has_own_tokenizer else base_tokenizer


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    with _model_errors(path):
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        # Batched generation and training need a pad token; EOS is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token
    # A tokenizer without a chat template gets the one fallback every stage renders (and saves) with.
    return carry_template(tokenizer)


@contextmanager
def _model_errors(path: Path) -> Iterator[None]:
    """A damaged or unsupported model directory becomes a UserError naming it."""
    from safetensors import SafetensorError

    try:
        yield
    except UserError:
        raise
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        raise UserError(
            f"cannot load the model ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})",
            where=path,
            expected="a complete transformers causal-LM directory",
        ) from error
