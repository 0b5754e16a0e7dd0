"""The model layer: one client for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, the
llama.cpp server) through the `openai` package, and the offline provider when none is
configured. Both stream tokens through the same `complete(prompt, on_token)` call and
answer a `Completion` naming the provider and model, so every result can say which wrote it.

Retries: the `openai` client retries 429, 408, 409 and 5xx answers and timeouts itself
(`NUMBORS_LLM_MAX_RETRIES`, honouring `Retry-After`); what still fails after them raises
`ModelUnavailable`, which the job layer turns into a job retry. Anything else the endpoint
refuses (a bad key, an unknown model) raises `ModelError`: retrying would not help.
A completion that is no narrative is a failure of the model too, raised as
`ModelUnavailable`: a stream that breaks off or sends a chunk that is not what the API
defines (malformed JSON, a missing field), an empty or whitespace-only answer (tool calls
or refusals carry no text), and one cut off by the token limit (`finish_reason` "length").
Structured output: a `Prompt` with a `response_format` (a JSON schema, `agents.claims`) is
sent with it when the client's `structured` is on (`NUMBORS_AI_STRUCTURED_OUTPUT`); the
answer must then be JSON (malformed JSON is `ModelUnavailable`). An endpoint that answers
400 to such a request raises `StructuredOutputRefused` (a `ModelError`): the caller turns
`structured` off for this client and asks again in prose.
Usage is what the endpoint reports in its final stream chunk (`stream_options.include_usage`).

A process builds one client at start-up (`services.Services.model`) and every job shares it:
`openai.AsyncOpenAI` is safe for concurrent requests and keeps one connection pool.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from settings import Settings

OPENAI_URL = "https://api.openai.com/v1"
PROBE_TIMEOUT_S = 3.0
OPENAI_COMPATIBLE = "openai-compatible"
OFFLINE = "offline"

TokenSink = Callable[[str], Awaitable[None]]


class ModelUnavailable(Exception):
    """The endpoint is overloaded, down or slow (429, 5xx, timeout) after the retries."""


class ModelError(Exception):
    """The endpoint refused the request for a reason a retry will not fix."""


class StructuredOutputRefused(ModelError):
    """The endpoint answered 400 to a request with a `response_format`: it has no
    structured output (or not this kind)."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "reported": self.reported,
        }


@dataclass(frozen=True)
class Prompt:
    """What to narrate: the chat messages for a model, and the same material as data for
    the offline provider, which writes from the facts themselves."""

    system: str
    user: str
    facts: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    subject: dict[str, Any] = field(default_factory=dict)
    # Asks for structured output (an OpenAI `response_format`) where the client supports it.
    response_format: dict[str, Any] | None = None

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


@dataclass
class Completion:
    text: str
    provider: str
    model: str
    usage: Usage
    duration_ms: int
    notice: str | None = None
    structured: bool = False  # the text is the JSON a `response_format` asked for


class ModelClient(Protocol):
    provider: str
    model: str
    offline: bool
    structured: bool  # sends a prompt's `response_format` (see the module's docstring)

    async def complete(self, prompt: Prompt, on_token: TokenSink | None = None) -> Completion: ...

    async def probe(self) -> bool: ...

    async def close(self) -> None: ...


TRANSIENT_STATUS = frozenset({408, 409, 429})


class OpenAICompatible:
    """Chat completions, streamed, from any endpoint that speaks OpenAI's API."""

    provider = OPENAI_COMPATIBLE
    offline = False

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        structured: bool = True,
    ):
        self.base_url = base_url
        self.structured = structured
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            # Local servers (Ollama, llama.cpp) take no key, but the client insists on one.
            api_key=api_key or "no-key",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    async def complete(self, prompt: Prompt, on_token: TokenSink | None = None) -> Completion:
        started = time.monotonic()
        usage = Usage()
        parts: list[str] = []
        finish: str | None = None
        options: dict[str, Any] = {}
        if self.max_tokens:
            options["max_tokens"] = self.max_tokens
        structured = self.structured and prompt.response_format is not None
        if structured:
            options["response_format"] = prompt.response_format
        try:
            stream = await self.client.chat.completions.create(
                model=self.model,
                messages=prompt.messages(),  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
                temperature=self.temperature,
                **options,
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(
                        chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0, True
                    )
                for choice in chunk.choices:
                    token = choice.delta.content if choice.delta else None
                    if not isinstance(token, str | None):
                        raise ModelUnavailable("the model sent a chunk whose content is not text")
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    if token:
                        parts.append(token)
                        if on_token is not None:
                            await on_token(token)
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise ModelUnavailable(f"the model endpoint did not answer: {error}") from error
        except openai.APIStatusError as error:
            message = f"the model endpoint answered {error.status_code}: {error.message}"
            if structured and error.status_code == 400:
                raise StructuredOutputRefused(message) from error
            if error.status_code in TRANSIENT_STATUS or error.status_code >= 500:
                raise ModelUnavailable(message) from error
            raise ModelError(message) from error
        except openai.APIError as error:  # e.g. an error event inside the stream
            raise ModelUnavailable(f"the model stream failed: {error}") from error
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            # A chunk the client cannot read: malformed JSON (`JSONDecodeError` is a
            # ValueError), a missing or mistyped field. The endpoint's fault, worth a retry.
            raise ModelUnavailable(
                f"the model sent a malformed chunk ({type(error).__name__}: {str(error)[:200]})"
            ) from error
        text = "".join(parts)
        if not text.strip():
            raise ModelUnavailable("the model answered an empty completion")
        if finish == "length":
            raise ModelUnavailable(
                "the model's answer was cut off by the token limit (NUMBORS_LLM_MAX_TOKENS)"
            )
        if structured:
            try:
                json.loads(text)
            except ValueError as error:
                raise ModelUnavailable(
                    f"the model answered malformed JSON ({str(error)[:200]})"
                ) from error
        return Completion(
            text=text,
            provider=self.provider,
            model=self.model,
            usage=usage,
            duration_ms=int((time.monotonic() - started) * 1000),
            structured=structured,
        )

    async def probe(self) -> bool:
        """Whether the endpoint answers its model list quickly (no retries)."""
        try:
            await self.client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).models.list()
        except openai.OpenAIError:
            return False
        return True

    async def close(self) -> None:
        await self.client.close()


def configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url or settings.llm_api_key)


def describe(settings: Settings) -> dict[str, Any]:
    """Which provider answers, without connecting to it."""
    if not configured(settings):
        from agents.offline import MODEL

        return {"provider": OFFLINE, "model": MODEL, "base_url": None}
    return {
        "provider": OPENAI_COMPATIBLE,
        "model": settings.llm_model,
        "base_url": settings.llm_base_url or OPENAI_URL,
    }


def model_client(settings: Settings) -> ModelClient:
    """The configured endpoint's client, or the offline provider when there is none."""
    if not configured(settings):
        from agents.offline import OfflineProvider

        return OfflineProvider()
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAICompatible(
        settings.llm_base_url or OPENAI_URL,
        settings.llm_model,
        key,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_tokens=settings.llm_max_tokens,
        structured=settings.ai_structured_output,
    )
