"""The four-way comparison: base, base+RAG, tuned and tuned+RAG on the same held-out set.

Models come in already loaded, so this is the one readable function from inputs to
numbers; loading checkpoints and writing files stay in the CLI and `report`. When the
tuned model is a PEFT adapter and no separate baseline is given, "base" is the same
weights with the adapter switched off: no second copy of the model in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kubetrainer.evaluate.answers import Answer, AnswerSettings, answer_questions
from kubetrainer.evaluate.dataset import EvalSet, render_texts
from kubetrainer.evaluate.metrics import score_answers
from kubetrainer.evaluate.perplexity import perplexity

# A progress hook: called with a description and a total, returns the "advance by one" callback.
Tracker = Callable[[str, int], Callable[[], None]]


def silent(description: str, total: int) -> Callable[[], None]:
    return lambda: None


@dataclass
class Candidate:
    """A loaded model under a role ("base" or "tuned") and the reference it was loaded from."""

    role: str
    ref: str
    model: object
    tokenizer: object
    shares_weights_with_tuned: bool = False  # base = tuned PEFT model with its adapter disabled

    @contextlib.contextmanager
    def active(self) -> Iterator[object]:
        if self.shares_weights_with_tuned:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.model


def base_of(tuned: Candidate) -> Candidate:
    """The tuned model's own base: the PEFT model with its adapter disabled."""
    if not hasattr(tuned.model, "disable_adapter"):
        raise ValueError(f"{tuned.ref} is not a PEFT adapter, so it has no built-in base; give a baseline")
    base_ref = getattr(getattr(tuned.model, "peft_config", {}).get("default"), "base_model_name_or_path", None)
    return Candidate("base", base_ref or f"{tuned.ref} (adapter off)", tuned.model, tuned.tokenizer, True)


@dataclass(frozen=True)
class EvalSettings:
    window: int | None = None
    stride: int | None = None
    answers: AnswerSettings = field(default_factory=AnswerSettings)


@dataclass
class VariantResult:
    name: str
    model: str
    rag: bool
    perplexity: dict | None
    qa: dict | None
    answers: list[Answer]

    def to_json(self) -> dict:
        return {"name": self.name, "model": self.model, "rag": self.rag, "perplexity": self.perplexity, "qa": self.qa}


def evaluate_variants(
    candidates: list[Candidate],
    eval_set: EvalSet,
    settings: EvalSettings,
    retriever=None,
    track: Tracker = silent,
) -> list[VariantResult]:
    """Each candidate without and (given a retriever) with RAG; perplexity once per model."""
    results = []
    for candidate in candidates:
        with candidate.active() as model:
            advance = track(f"{candidate.role}: perplexity", len(eval_set.texts))
            texts = render_texts(eval_set, candidate.tokenizer)
            ppl = perplexity(model, candidate.tokenizer, texts, window=settings.window, stride=settings.stride, on_text=advance).to_json()
            for rag in (False, True) if retriever is not None else (False,):
                name = f"{candidate.role}+rag" if rag else candidate.role
                answers, qa = [], None
                if eval_set.questions:
                    advance = track(f"{name}: answering", len(eval_set.questions))
                    answers = answer_questions(
                        model, candidate.tokenizer, eval_set.questions, settings.answers, retriever if rag else None, advance
                    )
                    qa = score_answers([answer.prediction for answer in answers], [answer.references for answer in answers])
                # perplexity does not depend on retrieval: the +RAG row leaves it out rather than repeat it
                results.append(VariantResult(name, candidate.ref, rag, None if rag else ppl, qa, answers))
    return results
