"""Answering held-out questions with a model, with or without retrieved context.

Greedy decoding, so a report is reproducible and two variants differ only by the
model or the context. With a retriever the answer comes from the answer engine
(`kubetrainer.answer`) with this model phrasing it under the guard, the same path
`kubetrainer ask --phrase` and the server take, so the "+RAG" rows measure what users get.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubetrainer.evaluate.dataset import Question
from kubetrainer.generation.chat import render


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


def generate(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """Greedy continuation of `prompt`, decoded without special tokens."""
    import torch

    device = next(model.parameters()).device
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        output = model.generate(
            **encoded, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id, num_beams=1
        )
    new_tokens = output[0, encoded["input_ids"].shape[1] :]
    return tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


def answer_questions(
    model,
    tokenizer,
    questions: Sequence[Question],
    settings: AnswerSettings,
    retriever=None,
    on_answer: Callable[[], None] | None = None,
) -> list[Answer]:
    """Answer every question; with a retriever, the top hits go into the prompt as cited context."""
    answers = []
    model.eval()
    engine = None
    if retriever is not None:
        from kubetrainer.answer import AnswerEngine
        from kubetrainer.answer.phrase import hf_phraser
        from kubetrainer.diagnose.store import read_findings

        phraser = hf_phraser(model, tokenizer, settings.max_new_tokens)
        engine = AnswerEngine(retriever, read_findings(retriever.directory), phraser, settings.top_k)
    for question in questions:
        if engine is not None:
            answer = engine.answer(question.text)
            prediction, sources = answer.text, answer.sources_json()
        else:
            prediction, sources = generate(model, tokenizer, render(tokenizer, question.messages), settings.max_new_tokens), []
        answers.append(Answer(question=question.text, prediction=prediction, references=question.references, sources=sources))
        if on_answer:
            on_answer()
    return answers
