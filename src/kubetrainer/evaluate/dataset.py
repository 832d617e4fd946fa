"""Held-out data for evaluation: texts to score for perplexity and questions with reference answers.

The file is read by the trainer's own format reader (`train.formats.load_dataset`), so
evaluation accepts exactly what training accepts (alpaca, chat, prompt/completion,
raw text, cluster_texts.json) and a held-out split never needs converting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubetrainer.errors import UserError


@dataclass(frozen=True)
class Question:
    """A prompt (the conversation up to the answer) and the answers we accept."""

    messages: list[dict[str, str]]
    references: list[str]

    @property
    def text(self) -> str:
        """The question itself: the last user turn."""
        return next(message["content"] for message in reversed(self.messages) if message["role"] == "user")


@dataclass(frozen=True)
class EvalSet:
    format: str
    texts: list[str] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def from_examples(format_name: str, examples: list[dict], limit: int | None = None) -> EvalSet:
    """Split normalised training examples into perplexity texts and QA questions.

    Every example contributes its full text to perplexity; an example with a prompt
    (a user turn, or a non-empty `prompt`) also becomes a question whose reference is
    the final assistant turn or the completion.
    """
    texts: list[str] = []
    questions: list[Question] = []
    for example in examples[:limit] if limit else examples:
        if "messages" in example:
            messages = example["messages"]
            last_answer = max(index for index, message in enumerate(messages) if message["role"] == "assistant")
            texts.append("\n".join(message["content"] for message in messages[: last_answer + 1]))
            prompt = messages[:last_answer]
            if any(message["role"] == "user" for message in prompt):
                questions.append(Question(messages=prompt, references=[messages[last_answer]["content"]]))
        else:
            prompt, completion = example["prompt"], example["completion"]
            texts.append(f"{prompt}\n{completion}" if prompt else completion)
            if prompt.strip():
                questions.append(Question(messages=[{"role": "user", "content": prompt}], references=[completion]))
    return EvalSet(format=format_name, texts=[text for text in texts if text.strip()], questions=questions)


def load_eval_set(path: Path, limit: int | None = None) -> EvalSet:
    """The held-out set in `path` (any training format), at most `limit` examples."""
    from kubetrainer.train.formats import load_dataset

    format_name, examples = load_dataset(path)
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit} leaves nothing to evaluate", where="--limit", expected="a positive number")
    eval_set = from_examples(format_name, examples, limit)
    if not eval_set.texts:
        raise UserError("the held-out dataset has no text to evaluate", where=path, expected="at least one non-empty example")
    return eval_set
