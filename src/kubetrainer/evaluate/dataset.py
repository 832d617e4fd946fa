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
    """Held-out documents for perplexity (plain strings, or conversations to render with the model's
    chat template, the form the model was trained on) and questions for QA."""

    format: str
    texts: list[str | list[dict[str, str]]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def render_texts(eval_set: EvalSet, tokenizer) -> list[str]:
    """The perplexity documents as strings: conversations rendered as training renders them (`generation.chat`)."""
    from kubetrainer.generation.chat import render

    return [text if isinstance(text, str) else render(tokenizer, text, add_generation_prompt=False)
            for text in eval_set.texts]


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
            texts.append(messages[: last_answer + 1])
            prompt = messages[:last_answer]
            if any(message["role"] == "user" for message in prompt):
                questions.append(Question(messages=prompt, references=[messages[last_answer]["content"]]))
        else:
            prompt, completion = example["prompt"], example["completion"]
            texts.append(f"{prompt}\n{completion}" if prompt else completion)
            if prompt.strip():
                questions.append(Question(messages=[{"role": "user", "content": prompt}], references=[completion]))
    return EvalSet(format=format_name, texts=[text for text in texts if not isinstance(text, str) or text.strip()], questions=questions)


def checked(eval_set: EvalSet, where: Path | str) -> EvalSet:
    if not eval_set.texts:
        raise UserError("the held-out dataset has no text to evaluate", where=where, expected="at least one non-empty example")
    return eval_set


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit} leaves nothing to evaluate", where="--limit", expected="a positive number")


def load_eval_set(path: Path, limit: int | None = None) -> EvalSet:
    """The held-out set in `path` (any training format): its eval split when it names one, else all of it."""
    from kubetrainer.train.formats import load_splits

    _check_limit(limit)
    format_name, train, evaluation = load_splits(path)
    return checked(from_examples(format_name, evaluation or train, limit), path)


def run_eval_set(run_dir: Path, limit: int | None = None) -> EvalSet:
    """The examples a training run held out: its eval_dataset, the dataset's eval split, or the seeded slice."""
    from kubetrainer.train.engine import split_eval
    from kubetrainer.train.formats import load_dataset, load_splits
    from kubetrainer.train.runs import read_config

    _check_limit(limit)
    config = read_config(run_dir)
    if config.eval_dataset is not None:
        format_name, evaluation = load_dataset(config.eval_dataset)
    else:
        format_name, train, evaluation = load_splits(config.dataset)
        if not evaluation:
            # the same seeded slice the trainer held out (train.engine._load_data), so no training example leaks in
            evaluation = split_eval(train, config.eval_fraction, config.seed)[1]
    if not evaluation:
        raise UserError("the run held out no examples (eval_fraction 0)", where=run_dir / "config.json", hint="pass --dataset HELD_OUT.jsonl")
    return checked(from_examples(format_name, evaluation, limit), run_dir / "config.json")
