"""The response envelope, rendered with orjson, and its models for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from domain.fields import QueryInt

T = TypeVar("T")


class EnvelopeResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any, status: int = 200, meta: dict[str, Any] | None = None) -> EnvelopeResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return EnvelopeResponse(body, status_code=status)


def fail(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> EnvelopeResponse:
    error = {"code": code, "message": message, "details": details or []}
    return EnvelopeResponse({"success": False, "error": error}, status_code=status)


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


class Meta(BaseModel):
    total: int
    page: int
    limit: int


class ListEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    meta: Meta


MAX_LIMIT = 200
# Bounded so that the offset, (page - 1) * limit, fits the stores' 64-bit integers.
MAX_PAGE = 1_000_000_000


class PageQuery(BaseModel):
    """`?page=&limit=` of a list that has no other parameter (unknown ones are a 400)."""

    model_config = ConfigDict(extra="forbid")
    page: QueryInt = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1")
    limit: QueryInt = Field(25, ge=1, le=MAX_LIMIT, description="Items per page (max 200)")

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.limit

    def meta(self, total: int) -> dict[str, int]:
        return {"total": total, "page": self.page, "limit": self.limit}


def paged(items: Sequence[Any], query: PageQuery) -> EnvelopeResponse:
    """One page of a list the server holds whole (the module catalogue, the workflows)."""
    return ok(list(items[query.skip : query.skip + query.limit]), meta=query.meta(len(items)))


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Any] = []


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


class Deleted(BaseModel):
    id: str
    deleted: bool


ERROR_TEXT = {
    400: "Bad input",
    401: "Missing, expired or invalid token",
    403: "Not a member of the company, module disabled, or role not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    503: "Dependency unavailable",
}
ERROR_CODES = "x-error-codes"
"""The `error.code`s a response may carry: the route's own, given here, and those that follow
from the operation's shape (an id parameter, the company header, a body...), which
`api/openapi.py` adds and names in the response's description."""


def errors(
    *statuses: int, codes: dict[int, tuple[str, ...]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer, with the
    `error.code`s of its own for each (`codes={409: ("email_taken",)}`)."""
    codes = codes or {}
    unknown = set(codes) - set(statuses)
    if unknown:
        raise ValueError(f"codes for undeclared statuses {sorted(unknown)}")
    return {
        s: {
            "model": ErrorEnvelope,
            "description": ERROR_TEXT[s],
            ERROR_CODES: list(codes.get(s, ())),
        }
        for s in statuses
    }


def failure(status: int, text: str, *codes: str) -> dict[int | str, dict[str, Any]]:
    """One error response described in the route's own words (a public route's 401)."""
    return {status: {"model": ErrorEnvelope, "description": text, ERROR_CODES: list(codes)}}
