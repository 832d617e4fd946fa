"""Answer a question from the index: retrieve, build a prompt that fits, generate, cite."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetrainer.rag.prompt import build_messages, describe_source, render_chat
from kubetrainer.rag.retriever import Hit, Retriever


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Hit] = field(default_factory=list)
    prompt_tokens: int = 0

    def citation_lines(self) -> list[str]:
        lines = []
        for number, hit in enumerate(self.citations, start=1):
            path = f" ({hit.source['path']})" if hit.source.get("path") else ""
            lines.append(f"[{number}] {describe_source(hit.source)}{path}")
        return lines

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "prompt_tokens": self.prompt_tokens,
            "citations": [{"number": n, **hit.to_json()} for n, hit in enumerate(self.citations, start=1)],
        }


def context_window(model: Any, tokenizer: Any) -> int:
    """The model's context length (config first; tokenizers often report a huge placeholder)."""
    configured = getattr(model.config, "max_position_embeddings", None)
    if configured:
        return int(configured)
    return int(min(getattr(tokenizer, "model_max_length", 2048), 1_000_000))


def answer_question(
    question: str,
    retriever: Retriever,
    model: Any,
    tokenizer: Any,
    *,
    top_k: int = 5,
    filters: dict | None = None,
    max_new_tokens: int = 256,
    context_tokens: int | None = None,
) -> Answer:
    """Retrieve, fit the excerpts into the context left after `max_new_tokens`, generate greedily."""
    import torch

    hits = retriever.search(question, top_k=top_k, filters=filters)
    window = context_window(model, tokenizer)
    budget = window - max_new_tokens if context_tokens is None else min(context_tokens, window - max_new_tokens)
    messages, used = build_messages(question, hits, tokenizer, budget)
    encoded = tokenizer(render_chat(tokenizer, messages), add_special_tokens=False, return_tensors="pt")
    prompt_tokens = int(encoded["input_ids"].shape[1])
    with torch.inference_mode():
        output = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        )
    text = tokenizer.decode(output[0, prompt_tokens:], skip_special_tokens=True).strip()
    return Answer(question=question, text=text, citations=used, prompt_tokens=prompt_tokens)
