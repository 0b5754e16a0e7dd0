"""The one place errors become the envelope: domain errors, validation, HTTP, the unexpected."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.json_body import BodyRefused
from api.responses import EnvelopeResponse, fail
from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from memory.store import QueryError, StoreBusyError

log = logging.getLogger("numbors.api")

STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    RateLimited: 429,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
}


# FastAPI's answer when a JSON body cannot even be decoded (not UTF-8): its message, vague
FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"


def status_of(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = []
    for error in errors:
        message = error.get("msg", "invalid value")
        if error.get("type") == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        elif error.get("type") == "missing":
            message = "this field is required"
        elif error.get("type") == "value_error" and "error" in error.get("ctx", {}):
            message = str(error["ctx"]["error"])  # the validator's own words, unprefixed
        details.append({"field": _field(tuple(error.get("loc", ()))), "message": message})
    return details


async def on_domain_error(request: Request, error: Exception) -> EnvelopeResponse:
    assert isinstance(error, DomainError)
    response = fail(status_of(error), error.code, error.message, error.details)
    if isinstance(error, Unavailable):  # 503 and 429: say when to come back
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def on_validation_error(request: Request, error: Exception) -> EnvelopeResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        where = errors[0].get("ctx", {}).get("error", "")
        return fail(
            400, "malformed_json", f"the request body is not valid JSON: {where}".strip(": ")
        )
    details = validation_details(errors)
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return fail(400, "validation_error", f"invalid input: {summary}", details)


async def on_http_error(request: Request, error: Exception) -> EnvelopeResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    if isinstance(error, BodyRefused):
        return fail(400, error.code, error.detail)
    if status == 400 and error.detail == FASTAPI_UNREADABLE_BODY:
        return fail(400, "malformed_json", "the request body is not valid JSON: not UTF-8 text")
    if status == 404 and error.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}; see /api/docs"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(error.detail)
    response = fail(status, HTTP_CODES.get(status, "http_error"), message)
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response


async def on_store_error(request: Request, error: Exception) -> EnvelopeResponse:
    if isinstance(error, StoreBusyError):
        response = fail(503, "store_busy", "the database is busy; retry shortly")
        response.headers["Retry-After"] = "1"
        return response
    return fail(400, "invalid_query", str(error))


async def on_unexpected(request: Request, error: Exception) -> EnvelopeResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return fail(500, "internal_error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(QueryError, on_store_error)
    app.add_exception_handler(StoreBusyError, on_store_error)
    app.add_exception_handler(Exception, on_unexpected)
