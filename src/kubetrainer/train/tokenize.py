"""Examples to token ids and labels: loss on the response tokens only (unless asked otherwise).

Labels are found by character offsets, not by tokenizing pieces separately: the whole
conversation is rendered once with the model's chat template (or the fallback of
`generation.chat`, the same text serve and eval render), the character span of each
assistant turn is located by rendering the prefix up to it, and a token is a target when
its first character falls inside one. Tokenizing pieces separately would change tokens
at the seams (BPE merges across them) and train the model on text it never sees.

Only the head of a long example is tokenized: the first `max_seq_len` tokens can cover no
more characters than `max_seq_len` times the longest vocabulary entry, so the text is cut
at twice that (a margin for normalisers that compose characters) before the tokenizer sees
it. A 60 MB single-line record then costs kilobytes, not gigabytes of offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetrainer.generation.chat import render
from kubetrainer.train.formats import Example

IGNORE = -100


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def target_count(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def _chat_text_and_spans(tokenizer, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns."""
    text = render(tokenizer, messages, add_generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(render(tokenizer, messages[:index], add_generation_prompt=True)) if index else 0
        end = len(render(tokenizer, messages[: index + 1], add_generation_prompt=False))
        spans.append((start, end))
    return text, spans


def _completion_text_and_spans(tokenizer, example: Example) -> tuple[str, list[tuple[int, int]]]:
    eos = tokenizer.eos_token or ""
    text = example["prompt"] + example["completion"] + eos
    return text, [(len(example["prompt"]), len(text))]


def char_bound(tokenizer, max_seq_len: int) -> int:
    """How much of a text can matter to its first `max_seq_len` tokens (see the module's docstring)."""
    return 2 * max_seq_len * max(map(len, tokenizer.get_vocab()), default=1)


def tokenize_example(tokenizer, example: Example, *, max_seq_len: int, train_on_prompt: bool = False,
                     max_chars: int | None = None) -> TokenizedExample:
    """Token ids and labels (IGNORE outside responses) of one normalised example, truncated.

    `max_chars` (default: `char_bound`) is where the text is cut before tokenizing.
    """
    if "messages" in example:
        text, spans = _chat_text_and_spans(tokenizer, example["messages"])
    else:
        text, spans = _completion_text_and_spans(tokenizer, example)
    cut = max_chars if max_chars is not None else char_bound(tokenizer, max_seq_len)
    encoded = tokenizer(text[:cut], add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoded["input_ids"])[:max_seq_len]
    offsets = encoded["offset_mapping"][:max_seq_len]
    labels = [
        token if train_on_prompt or any(start <= offset[0] < end for start, end in spans) else IGNORE
        for token, offset in zip(input_ids, offsets)
    ]
    return TokenizedExample(input_ids=input_ids, labels=labels)


def tokenize_all(tokenizer, examples: list[Example], *, max_seq_len: int, train_on_prompt: bool) -> list[TokenizedExample]:
    """Tokenized examples that keep at least one target token after truncation."""
    cut = char_bound(tokenizer, max_seq_len)
    tokenized = (
        tokenize_example(tokenizer, example, max_seq_len=max_seq_len, train_on_prompt=train_on_prompt, max_chars=cut)
        for example in examples
    )
    return [item for item in tokenized if item.target_count > 0]
