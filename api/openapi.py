"""The OpenAPI document as the spec serves it: 400 (never 422) for validation, every error
response naming its `error.code`s, and YAML.

A route declares its statuses and the codes of its own rules (`api.responses.errors`); the
codes that follow from an operation's shape are added here, for every route alike: a body
can be `malformed_json`, an id parameter `invalid_id` and `not_found`, the company header
`invalid_company_id`, `not_a_member` and `no_company`, a module gate `module_disabled`, a
bearer token any of `TOKEN_CODES`; an operation with a body can be 413 `body_too_large` (the
middleware's limit). Each response lists them in `x-error-codes` and in its description.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from api.deps import GATES, ID_PATTERN
from api.responses import ERROR_CODES, ERROR_TEXT, ErrorEnvelope
from api.routing import app_routes

ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
TOKEN_CODES = (
    "token_missing",
    "token_malformed",
    "token_expired",
    "token_signature_invalid",
    "token_algorithm_invalid",
    "token_audience_invalid",
    "token_issuer_invalid",
    "token_claim_missing",
    "token_not_yet_valid",
    "user_unknown",
)
"""What `domain.auth.tokens.verify` and `api.deps` answer for a token they refuse."""


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = app_routes(app)
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=routes,
            )
            _replace_422(schema)
            _standard_bounds(schema)
            _name_error_codes(schema, gated_operations(routes))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def openapi_yaml(request: Request) -> Response:
        text = yaml.safe_dump(app.openapi(), sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")

    app.add_route("/api/openapi.yaml", openapi_yaml, include_in_schema=False)


def effective_routes(routes: list[BaseRoute]) -> list[Any]:
    """Every route as it answers: an included router's routes in their inclusion's context."""
    found: list[Any] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        found += list(contexts()) if contexts else [route]
    return found


def gated_operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(path, method) of every operation behind a module gate."""
    return {
        (route.path_format, method.lower())
        for route in effective_routes(routes)
        if any(d.dependency in GATES for d in getattr(route, "dependencies", ()))
        for method in getattr(route, "methods", ())
    }


def _replace_422(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorEnvelope",
        ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}"),
    )
    for defs_name, defs in (
        ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        components.setdefault(defs_name, defs)
    components["ErrorEnvelope"].pop("$defs", None)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault(
                    "400",
                    {
                        "description": ERROR_TEXT[400],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )


# pydantic states a bound it could not put inside a union (`Rate | None = Field(gt=0)`) in
# its own words, `"gt": 0`, `"le": "1000"`, which no JSON Schema tool reads.
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_PYDANTIC_ONLY = ("decimal_places", "max_digits")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "schemas")
_DATA = ("example", "examples", "default", "enum", "const")


def _standard_bounds(node: Any) -> None:
    """Rewrite pydantic's bounds as JSON Schema's, on the number branches they bound."""
    if isinstance(node, list):
        for item in node:
            _standard_bounds(item)
        return
    if not isinstance(node, dict):
        return
    bounds = {_BOUNDS[k]: _number(node.pop(k)) for k in list(node) if k in _BOUNDS}
    for key in _PYDANTIC_ONLY:
        node.pop(key, None)
    if bounds:
        for branch in node.get("anyOf", [node]):
            if branch.get("type") in ("number", "integer"):
                branch.update(bounds)
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for child in value.values():
                _standard_bounds(child)
        elif key not in _DATA:
            _standard_bounds(value)


def _number(value: Any) -> Any:
    if isinstance(value, str):
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    return value


def shape_codes(operation: dict[str, Any], gated: bool) -> dict[str, list[str]]:
    """The `error.code`s an operation may answer because of its shape, by status."""
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    ids = [p for p in params if p["in"] == "path" and p["schema"].get("pattern") == ID_PATTERN]
    company = any(p["in"] == "header" and p["name"].lower() == "x-company-id" for p in params)
    validated = body or any(
        p["in"] == "query" or (p["in"] == "path" and p not in ids and _constrained(p["schema"]))
        for p in params
    )
    codes: dict[str, list[str]] = {"400": [], "401": [], "403": [], "404": [], "413": []}
    if validated:
        codes["400"].append("validation_error")
    if body:
        codes["400"].append("malformed_json")
        codes["413"].append("body_too_large")
    if ids:
        codes["400"].append("invalid_id")
        codes["404"].append("not_found")
    if company:
        codes["400"].append("invalid_company_id")
    if operation.get("security"):
        codes["401"] += TOKEN_CODES
        if company:  # the caller's membership of it
            codes["403"] += ["not_a_member", "no_company"]
    if gated:
        codes["403"].append("module_disabled")
    return codes


def _constrained(schema: dict[str, Any]) -> bool:
    return any(k in schema for k in ("enum", "pattern", "const")) or schema.get("type") not in (
        None,
        "string",
    )


def _name_error_codes(schema: dict[str, Any], gated: set[tuple[str, str]]) -> None:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            shape = shape_codes(operation, (path, method) in gated)
            if shape["413"] and "413" not in responses:
                responses["413"] = {
                    "description": ERROR_TEXT[413],
                    "content": {"application/json": {"schema": ERROR_REF}},
                }
            for status, response in responses.items():
                if status[:1] not in ("4", "5"):
                    continue
                own = response.get(ERROR_CODES, [])
                codes = list(dict.fromkeys([*shape.get(status, []), *own]))
                response[ERROR_CODES] = codes
                if codes:
                    listed = ", ".join(f"`{code}`" for code in codes)
                    response["description"] = f"{response['description']}. `error.code`: {listed}"
