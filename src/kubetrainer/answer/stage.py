"""Opening an answer engine over an index: its stored findings, its retriever, and (optionally) a phrasing model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetrainer.answer.engine import AnswerEngine
from kubetrainer.diagnose.store import FINDINGS, read_findings
from kubetrainer.errors import UserError


def open_engine(retriever: Any, *, model: str | None = None, phrase: bool = True, models_dir: Path | None = None,
                max_new_tokens: int = 96, top_k: int = 5) -> AnswerEngine:
    """An engine over `retriever`'s index; with `phrase`, the model (`model`, default the bundled one) phrases answers."""
    if not (Path(retriever.directory) / FINDINGS).is_file():
        raise UserError("this index has no diagnosis (it was built by an older version)", where=retriever.directory,
                        expected="an index rebuilt with `kubetrainer index --source ...`")
    phraser = None
    if phrase:
        from kubetrainer.answer.phrase import hf_phraser
        from kubetrainer.models.loader import load_causal_lm

        llm, tokenizer = load_causal_lm(model, models_dir)
        phraser = hf_phraser(llm, tokenizer, max_new_tokens)
    return AnswerEngine(retriever, read_findings(retriever.directory), phraser, top_k)
