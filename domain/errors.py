"""Domain exceptions. Each names a stable `code`; `api/errors.py` maps the class to a status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or []


class Invalid(DomainError):
    """The input is well-formed JSON but breaks a rule: say which field and how to fix it."""

    code = "validation_error"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unavailable(DomainError):
    """503; `retry_after` (seconds) becomes the Retry-After header."""

    code = "unavailable"
    retry_after: int = 5

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message, code=code, details=details)
        if retry_after is not None:
            self.retry_after = retry_after


class RateLimited(Unavailable):
    """429 Too Many Requests; `retry_after` (seconds) becomes the Retry-After header."""

    code = "rate_limited"


def not_found(kind: str, id: str) -> NotFound:
    return NotFound(f"{kind} {id} not found", code="not_found")
