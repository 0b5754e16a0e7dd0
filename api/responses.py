"""The response envelope, rendered with orjson, and its models for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from starlette.responses import Response

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


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can answer."""
    text = {
        400: "Validation error",
        401: "Missing, expired or invalid token",
        403: "Not a member of the company, module disabled, or role not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Request body too large",
        503: "Dependency unavailable",
    }
    return {s: {"model": ErrorEnvelope, "description": text[s]} for s in statuses}
