"""Opening an answer engine over an index: its stored findings, its retriever, and (optionally) a phrasing model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetrainer.answer.engine import AnswerEngine
from kubetrainer.answer.phrase import load_phraser
from kubetrainer.diagnose.store import FINDINGS, read_findings
from kubetrainer.errors import UserError


def open_engine(retriever: Any, *, model: str | None = None, phrase: bool = True, models_dir: Path | None = None,
                max_new_tokens: int = 96, top_k: int = 5) -> AnswerEngine:
    """An engine over `retriever`'s index; with `phrase`, the model (`model`, default the bundled one) phrases answers."""
    if not (Path(retriever.directory) / FINDINGS).is_file():
        raise UserError("this index has no diagnosis (it was built by an older version)", where=retriever.directory,
                        expected="an index rebuilt with `kubetrainer index --source ...`")
    phraser = load_phraser(model, models_dir, max_new_tokens) if phrase else None
    return AnswerEngine(retriever, read_findings(retriever.directory), phraser, top_k)
