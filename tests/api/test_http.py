"""What holds for every request: request ids, the error envelope for HTTP-level failures,
body limits, 400 (never 422) for bad input, health, and the OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml

from settings import Settings
from tests.helpers import Account, data, detail_fields, expect_error

HEX_ID = re.compile(r"[0-9a-f]{32}")
METHODS = {"get", "post", "put", "patch", "delete"}


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length: `{}` then spaces, `total` bytes in all."""
    sent = 0
    head = b"{}"
    while sent < total:
        part = (head + b" " * size)[: min(size, total - sent)]
        head = b""
        sent += len(part)
        yield part


# request ids


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/health"), ("GET", "/api/nowhere"), ("GET", "/api/auth/me")],
)
async def test_every_response_carries_a_request_id(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    first = await client.request(method, path)
    second = await client.request(method, path)
    assert HEX_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_client_request_id_is_echoed(client: httpx.AsyncClient, alice: Account) -> None:
    sent = "client-req_42.a:b"
    response = await client.get("/api/auth/me", headers={**alice.headers, "X-Request-Id": sent})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == sent
    failed = await client.get("/api/auth/me", headers={"X-Request-Id": sent})
    assert failed.status_code == 401
    assert failed.headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["has spaces", "x" * 129, "semi;colon", ""])
async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/api/health", headers={"X-Request-Id": sent})
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


# HTTP-level errors in the envelope


async def test_unknown_route_is_404_not_found(client: httpx.AsyncClient) -> None:
    error = expect_error(await client.get("/api/no-such-thing"), 404, "not_found")
    assert "/api/no-such-thing" in error["message"]


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health")
    expect_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_wrong_method_on_a_resource_is_405(alice: Account) -> None:
    expect_error(await alice.patch("/api/contacts", json={}), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "body",
    [b'{"email": ', b"{'single': 'quotes'}", b'{"a": 1,}', b"nope", b"\xff\xfe", b'{"n": "\xff"}'],
)
@pytest.mark.parametrize("url", ["/api/auth/login", "/api/contacts"])
async def test_malformed_json_is_400(alice: Account, body: bytes, url: str) -> None:
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await alice.client.post(url, content=body, headers=headers)
    expect_error(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 123}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": {"first": "a"}}, "name"),
        ({"name": True}, "name"),
        ({"name": "X", "enabled": "yes please"}, "enabled"),
        ({"name": "X", "address": "1 Main St"}, "address"),
        ([{"name": "X"}], "body"),
        ("just a string", "body"),
        (42, "body"),
        (None, "body"),
    ],
)
async def test_wrong_json_types_are_400_never_422(alice: Account, body: Any, field: str) -> None:
    response = await alice.client.post(
        "/api/contacts",
        content=json.dumps(body).encode(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    error = expect_error(response, 400, "validation_error")
    assert detail_fields(error) == {field}


# body limits


async def test_a_body_over_the_limit_with_content_length_is_413(
    alice: Account, settings: Settings
) -> None:
    body = b"{}" + b" " * (settings.max_body_bytes - 1)
    response = await alice.client.post(
        "/api/contacts", content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(settings.max_body_bytes + 1)
    error = expect_error(response, 413, "body_too_large")
    assert str(settings.max_body_bytes) in error["message"]
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


async def test_a_streamed_body_over_the_limit_is_413(alice: Account, settings: Settings) -> None:
    response = await alice.client.post(
        "/api/contacts",
        content=chunks(settings.max_body_bytes + 1),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    expect_error(response, 413, "body_too_large")


async def test_a_body_at_the_limit_is_read(alice: Account, settings: Settings) -> None:
    """Exactly at the limit the body is parsed: the answer is about its content, not size."""
    headers = {**alice.headers, "Content-Type": "application/json"}
    sized = b"{}" + b" " * (settings.max_body_bytes - 2)
    for content in (sized, chunks(settings.max_body_bytes)):
        response = await alice.client.post("/api/contacts", content=content, headers=headers)
        error = expect_error(response, 400, "validation_error")
        assert detail_fields(error) == {"name"}


# health


async def test_health(client: httpx.AsyncClient) -> None:
    assert data(await client.get("/api/health")) == {"status": "ok"}


async def test_ready_checks_store_and_redis(client: httpx.AsyncClient) -> None:
    assert data(await client.get("/api/ready")) == {
        "status": "ready",
        "checks": {"store": "ok", "redis": "ok"},
    }


# OpenAPI


@pytest.fixture(scope="module")
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


async def test_openapi_has_no_422_anywhere(openapi: dict[str, Any]) -> None:
    for path, method, op in operations(openapi):
        assert "422" not in op["responses"], (method, path)
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


async def test_openapi_operations_have_summary_and_tags(openapi: dict[str, Any]) -> None:
    ops = operations(openapi)
    assert len(ops) >= 15
    for path, method, op in ops:
        assert op.get("summary"), (method, path)
        assert op.get("tags"), (method, path)


async def test_openapi_documents_the_contract(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    for path in (
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/me",
        "/api/companies",
        "/api/companies/{id}",
        "/api/modules/enabled",
        "/api/modules/check/{alias}",
        "/api/modules/licenses",
        "/api/contacts",
        "/api/contacts/{id}",
        "/api/health",
        "/api/ready",
    ):
        assert path in paths, path
    create = paths["/api/contacts"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409"} <= set(create)
    assert create["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    assert "ErrorEnvelope" in openapi["components"]["schemas"]
    list_params = {p["name"] for p in paths["/api/contacts"]["get"]["parameters"]}
    assert {"page", "limit", "sort", "search", "from", "to", "type", "enabled"} <= list_params
    assert openapi["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_openapi_yaml_matches_the_json(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    response = await client.get("/api/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    parsed = yaml.safe_load(response.text)
    assert parsed["paths"].keys() == openapi["paths"].keys()
    assert parsed == openapi


async def test_docs_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in response.text
