"""One generation path: how a chat becomes a prompt, and how a model continues it.

Every stage that talks to a language model (train, serve, ask, eval, the quickstart) goes
through here, so a model sees the same prompt text wherever it runs:

- `chat`: prompt rendering. The tokenizer's own chat template, else one documented
  fallback (ChatML) that is written into every tokenizer this project saves, so a base
  model without a template is trained, served and evaluated in one format.
- `params`: how to decode (`SamplingParams`), and the defaults that suit small models
  when they answer (`answer_params`: greedy, no repeated 4-grams, repetition penalty).
- `engine`: the interface an inference engine implements (`Engine`): generate, stream,
  log-probabilities, token counting, stop sequences and cancellation.
- `hf`: the transformers implementation (`TransformersEngine`), the reference engine.
- `llamacpp`: the llama.cpp implementation (`LlamaCppEngine`) over a GGUF, when the optional
  llama-cpp-python wheel is installed.
- `vllm`: the vLLM implementation (`VLLMEngine`): vLLM's OpenAI server as a child process
  (`vllm_process` starts, health-checks and stops it), spoken to over HTTP with token ids.
- `engines`: the one place that chooses the engine (`kubetrainer serve --engine auto|transformers|llamacpp|vllm`).
- `respond`: a model's reply to chat messages with the answer defaults (what phrasing and
  the eval's answers use).
- `stops`: stop sequences cut out of whole texts and streams without leaking them.
"""
