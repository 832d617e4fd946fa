"""Request bodies of the OpenAI routes: the fields clients send, with their ranges.

Fields the OpenAI API defines are accepted by the schema (so the OpenAPI spec and
clients agree) and refused by `unsupported_fields` with a clear 400 when we cannot
honour them, rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from kubetrainer.serve.errors import APIError, unsupported

MAX_STOPS = 4


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[ContentPart], None] = None
    name: str | None = None

    def text(self) -> str:
        """The message as plain text; non-text parts (images, audio) are refused."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        for part in self.content:
            if part.type != "text":
                raise unsupported("messages", f"content parts of type '{part.type}'; only text")
        return "".join(part.text or "" for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    stop: Union[str, list[str], None] = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)  # what torch.manual_seed takes
    # OpenAI's penalties, over the completion's own tokens (`generation.hf`); the request's own, no server default
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    user: str | None = None

    def stops(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > MAX_STOPS:
            raise APIError(400, f"at most {MAX_STOPS} stop sequences", param="stop", code="invalid_value")
        return tuple(stop for stop in stops if stop)

    def check_common(self) -> None:
        if (self.n or 1) > 1:
            raise unsupported("n", "one choice per request; send n requests")
        if self.logit_bias:
            raise unsupported("logit_bias", "no logit bias")


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Union[str, dict[str, Any], None] = None
    functions: list[dict[str, Any]] | None = None
    function_call: Union[str, dict[str, Any], None] = None
    response_format: dict[str, Any] | None = None
    rag: bool = Field(default=True, description="kubetrainer: retrieve context from the index (when one is open)")
    rag_top_k: int | None = Field(default=None, ge=1, le=50, description="kubetrainer: how many passages to retrieve")
    rag_phrase: bool = Field(default=False, description="kubetrainer: let the model phrase the diagnosis (kept only if "
                                                        "the guard finds it grounded)")

    def check(self) -> None:
        self.check_common()
        for name in ("tools", "functions"):
            if getattr(self, name):
                raise unsupported(name, "no tool calling")
        for name in ("tool_choice", "function_call"):
            if getattr(self, name) not in (None, "none", "auto"):
                raise unsupported(name, "no tool calling")
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            raise unsupported("response_format", "plain text only")
        if self.logprobs and self.stream:
            raise unsupported("logprobs", "not with stream: true")


class CompletionRequest(_Sampling):
    prompt: Union[str, list[str], list[int], list[list[int]]] = Field(min_length=1)
    max_tokens: int | None = Field(default=16, ge=0)
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool | None = False
    best_of: int | None = Field(default=None, ge=1, le=20)
    suffix: str | None = None

    def check(self) -> None:
        self.check_common()
        if (self.best_of or 1) > 1:
            raise unsupported("best_of", "only 1")
        if self.suffix:
            raise unsupported("suffix", "no fill-in-the-middle")
        if self.stream and (self.logprobs is not None or self.echo):
            raise unsupported("stream", "not together with logprobs or echo")

    def prompts(self) -> list[Union[str, list[int]]]:
        """One entry per choice: a string or a list of token ids."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if all(isinstance(item, int) for item in prompt):
            return [list(prompt)]  # type: ignore[arg-type]
        return list(prompt)  # type: ignore[arg-type]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    input: Union[str, list[str], list[int], list[list[int]]]
    model: str = Field(min_length=1, max_length=256)
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    def texts(self) -> list[str]:
        items = [self.input] if isinstance(self.input, str) else list(self.input)
        if not items:
            raise APIError(400, "input must not be empty", param="input", code="invalid_value")
        if not all(isinstance(item, str) for item in items):
            raise unsupported("input", "token-id input; send text")
        return items  # type: ignore[return-value]
