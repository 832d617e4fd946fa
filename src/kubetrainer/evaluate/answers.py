"""Answering held-out questions with a model, with or without retrieved context.

Greedy decoding with the repetition guard (`generation.respond`, the same decoding as
phrasing), so a report is reproducible and two variants differ only by the model or the
context. With a retriever the answer comes from the answer engine
(`kubetrainer.answer`) with this model phrasing it under the guard, the same path
`kubetrainer ask --phrase` and the server take, so the "+RAG" rows measure what users get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubetrainer.evaluate.dataset import Question


@dataclass(frozen=True)
class AnswerSettings:
    max_new_tokens: int = 64
    top_k: int = 4


@dataclass(frozen=True)
class Answer:
    question: str
    prediction: str
    references: list[str]
    sources: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"question": self.question, "prediction": self.prediction, "references": self.references, "sources": self.sources}


def answer_questions(
    model,
    tokenizer,
    questions: Sequence[Question],
    settings: AnswerSettings,
    retriever=None,
    on_answer: Callable[[], None] | None = None,
) -> list[Answer]:
    """Answer every question; with a retriever, the top hits go into the prompt as cited context."""
    from kubetrainer.generation.hf import TransformersEngine
    from kubetrainer.generation.respond import responder

    answers = []
    model.eval()
    respond = responder(TransformersEngine(model, tokenizer), settings.max_new_tokens)
    engine = None
    if retriever is not None:
        from kubetrainer.answer import AnswerEngine
        from kubetrainer.diagnose.store import read_findings

        engine = AnswerEngine(retriever, read_findings(retriever.directory), respond, settings.top_k)
    for question in questions:
        if engine is not None:
            answer = engine.answer(question.text)
            prediction, sources = answer.text, answer.sources_json()
        else:
            prediction, sources = respond(question.messages), []
        answers.append(Answer(question=question.text, prediction=prediction, references=question.references, sources=sources))
        if on_answer:
            on_answer()
    return answers
