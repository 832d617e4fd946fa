"""The one home of prompt rendering: the exact text a model sees for a chat.

A tokenizer's own chat template wins. A tokenizer without one (a base model) gets
`FALLBACK_CHAT_TEMPLATE`, ChatML: the format SmolLM2 and many small instruct models use,
with turns delimited by `<|im_start|>role` and `<|im_end|>`. A tokenizer whose vocabulary
lacks those markers tokenizes them as plain text, which still keeps turns apart.

The fallback must be the same in training, serving and evaluation, and must survive a
save: `carry_template` puts it on the tokenizer itself (`tokenizer.chat_template`), so every
`save_pretrained` writes it beside the tokenizer (transformers 5 writes
`chat_template.jinja` next to `tokenizer_config.json`, older versions write it into
`tokenizer_config.json`) and a reload renders the same text without this module's help.
The loaders (`models.loader`, `train.model_setup`) and the savers (`train.checkpoint`,
`train.export`) call it.
"""

from __future__ import annotations

from typing import Any

Messages = list[dict[str, str]]

FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def carry_template(tokenizer: Any) -> Any:
    """`tokenizer`, given the fallback template when it has none, so that saving it saves the template too."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return tokenizer


def render(tokenizer: Any, messages: Messages, *, add_generation_prompt: bool = True) -> str:
    """The text of `messages` through the tokenizer's chat template, else the fallback.

    With `add_generation_prompt` the text ends where the next assistant turn begins (a prompt);
    without it, it is the whole conversation (a training or perplexity document).
    """
    template = getattr(tokenizer, "chat_template", None) or FALLBACK_CHAT_TEMPLATE
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def chat_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """The prompt token ids asking for the next assistant turn.

    No special tokens are added: the template writes the ones the model expects (a BOS
    included), and training tokenizes its documents the same way.
    """
    return list(tokenizer(render(tokenizer, messages), add_special_tokens=False)["input_ids"])


class TokenizerText:
    """The text side of an engine that holds the model's HF tokenizer (`self.tokenizer`): chats rendered here,
    plain text encoded, ids decoded. The transformers and vLLM engines share it, so they count and decode alike."""

    tokenizer: Any

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def chat_ids(self, messages: Messages) -> list[int]:
        return chat_ids(self.tokenizer, messages)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids)
