"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

- every response carries `X-Request-Id` (the client's own when it sent a sane one) and the
  security headers (`X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
  `X-Frame-Options: DENY`; `Strict-Transport-Security` when NUMBORS_HSTS says TLS
  terminates in front);
- a body over the limit is refused with 413 before the endpoint reads it;
- a JSON body is parsed once, as the endpoint reads it, by `api/json_body.py` (nesting and
  number limits: 400), whichever route serves it;
- one JSON access-log line per request (`api/access_log.py`): method, route, status,
  duration, request, user and company.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import json_body
from api.access_log import AccessLog
from api.responses import fail

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body exceeds {limit} bytes")


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, access_log: AccessLog, hsts: bool = False
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.headers = (*SECURITY_HEADERS, HSTS) if hsts else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 500
        security = self.headers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header, *security]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                limit = self.max_body_bytes
                await fail(413, "body_too_large", f"the request body exceeds {limit} bytes")(
                    scope, receive, send_with_id
                )
                return
            await self.app(scope, self._limited(scope, receive), send_with_id)
        finally:
            if self.access_log.enabled:
                self.access_log.write(_line(scope, status, started, request_id))

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        seen = 0
        chunks: list[bytes] | None = (
            [] if json_body.is_json(_header(scope, b"content-type")) else None
        )

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen += len(body)
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                if chunks is not None:
                    chunks.append(body)
                    if not message.get("more_body", False) and seen:
                        json_body.check(scope, chunks[0] if len(chunks) == 1 else b"".join(chunks))
            return message

        return limited


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            if REQUEST_ID.match(candidate):
                return candidate
    return os.urandom(16).hex()  # 32 hex digits, as uuid4().hex, at a third of its cost


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _line(scope: Scope, status: int, started: float, request_id: str) -> dict[str, Any]:
    route: Any = scope.get("route")
    state = scope.get("state", {})
    return {
        "method": scope["method"],
        "route": getattr(route, "path", None) or scope["path"],
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "request_id": request_id,
        "user_id": state.get("user_id"),
        "company_id": state.get("company_id"),
    }
