"""One generation path: how a chat becomes a prompt, and how a model continues it.

- `chat`: prompt rendering. The tokenizer's own chat template, else one documented
  fallback (ChatML) that is written into every tokenizer this project saves, so a base
  model without a template is trained, served and evaluated in one format.
"""
