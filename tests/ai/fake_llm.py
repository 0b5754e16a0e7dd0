"""A local OpenAI-compatible server for tests, so the real `openai` client code runs.

`POST /v1/chat/completions` with `stream: true` answers server-sent events the way OpenAI
does: `data: {chunk}` lines carrying content deltas, a chunk with `finish_reason`, a final
chunk with `usage` and no choices (when `stream_options.include_usage` is set), then
`data: [DONE]`. `GET /v1/models` lists the one model. The test decides what is said
(`narrate`: a function of the request, by default quoting the first facts of the prompt
verbatim) and can make the next requests fail (`fail_next`: 429 or 5xx, with a short
`retry-after-ms` so the client's retries are quick), or make the next streamed answers
broken (`break_next`: "malformed" sends a chunk that is not JSON mid-way, "empty" no
content, "truncated" stops at the token limit). Every request is recorded.

Structured output: a request with a `response_format` of type `json_schema` is answered by
`claims` (a function of the request answering the JSON object, or a string sent as is, to
send malformed JSON), serialised and streamed in small chunks that cut through strings and
keys, as a model's tokens do; by default it cites the first facts of the prompt by key
(`quote_claims`). With `structured = False` the server answers such a request 400, as an
endpoint without structured output does.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.jobs.support import serve

MODEL = "fake-model-1"
FACT_LINE = re.compile(r"^- (?P<label>[^:\n]+): (?P<value>.+)$", re.MULTILINE)
KEYED_FACT = re.compile(r"^- \{(?P<key>\w+)\} (?P<label>[^:\n]+): ", re.MULTILINE)
JSON_CHUNK = 7
CHUNK = re.compile(r"\S+\s*")


def quote_facts(body: dict[str, Any], count: int = 2) -> str:
    """A truthful narrative: the first facts of the prompt, as given."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    facts = FACT_LINE.findall(user)[:count]
    return " ".join(f"{label} was {value}." for label, value in facts) or "Nothing to report."


def quote_claims(body: dict[str, Any], count: int = 2) -> dict[str, Any]:
    """A truthful structured narrative: the first facts of the prompt, cited by key."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    facts = KEYED_FACT.findall(user)[:count]
    return {
        "sentences": [{"text": f"{label} was {{{key}}}.", "facts": [key]} for key, label in facts]
    }


def structured(body: dict[str, Any]) -> bool:
    return (body.get("response_format") or {}).get("type") == "json_schema"


@dataclass
class FakeLLM:
    narrate: Callable[[dict[str, Any]], str] = quote_facts
    claims: Callable[[dict[str, Any]], Any] = quote_claims
    structured: bool = True
    failures: list[int] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        """As it started: nothing recorded or queued to fail, the default narrative and
        claims, structured output supported."""
        self.narrate, self.claims, self.structured = quote_facts, quote_claims, True
        self.failures.clear()
        self.faults.clear()
        self.requests.clear()

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def break_next(self, *faults: str) -> None:
        self.faults.extend(faults)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers)})
        if self.failures:
            status = self.failures.pop(0)
            return JSONResponse(
                {"error": {"message": f"fake {status}", "type": "fake", "code": str(status)}},
                status_code=status,
                headers={"retry-after-ms": "10"},
            )
        chunks = None
        if structured(body):
            if not self.structured:
                return JSONResponse(
                    {
                        "error": {
                            "message": "response_format json_schema is not supported",
                            "type": "invalid_request_error",
                            "code": None,
                        }
                    },
                    status_code=400,
                )
            answer = self.claims(body)
            text = answer if isinstance(answer, str) else json.dumps(answer)
            chunks = [text[i : i + JSON_CHUNK] for i in range(0, len(text), JSON_CHUNK)]
        else:
            text = self.narrate(body)
        usage = (body.get("stream_options") or {}).get("include_usage", False)
        if not body.get("stream"):
            return JSONResponse(_completion(body, text))
        fault = self.faults.pop(0) if self.faults else None
        stream = _stream(body, text, usage, fault, chunks)
        return StreamingResponse(stream, media_type="text/event-stream")


def _chunk(body: dict[str, Any], **fields: Any) -> str:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", MODEL),
        **fields,
    }
    return f"data: {json.dumps(payload)}\n\n"


def _tokens(text: str) -> list[str]:
    return CHUNK.findall(text)


async def _stream(
    body: dict[str, Any],
    text: str,
    usage: bool,
    fault: str | None = None,
    chunks: list[str] | None = None,
) -> AsyncIterator[str]:
    yield _chunk(body, choices=[{"index": 0, "delta": {"role": "assistant"}}])
    tokens = [] if fault == "empty" else chunks if chunks is not None else _tokens(text)
    for i, token in enumerate(tokens):
        if fault == "malformed" and i == len(tokens) // 2:
            yield 'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "x"\n\n'
        yield _chunk(body, choices=[{"index": 0, "delta": {"content": token}}])
    finish = "length" if fault == "truncated" else "stop"
    yield _chunk(body, choices=[{"index": 0, "delta": {}, "finish_reason": finish}])
    if usage:
        prompt = sum(len(m["content"].split()) for m in body["messages"])
        completion = len(_tokens(text))
        yield _chunk(
            body,
            choices=[],
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        )
    yield "data: [DONE]\n\n"


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", MODEL),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
    }


@contextlib.asynccontextmanager
async def running(fake: FakeLLM | None = None) -> AsyncIterator[FakeLLM]:
    """The fake served by a real uvicorn on a free port, in this event loop."""
    fake = fake or FakeLLM()
    async with serve(fake.app()) as url:  # type: ignore[arg-type]
        fake.url = url
        yield fake
