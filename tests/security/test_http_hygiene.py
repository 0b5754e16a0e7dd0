"""HTTP hygiene: security headers and the request id on every answer (errors too), no CORS
unless a setting names origins, HSTS only when a setting says TLS terminates in front."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.app import create_app
from settings import Settings

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
            "x-frame-options": "DENY"}  # fmt: skip


async def test_every_answer_carries_the_headers(client: httpx.AsyncClient) -> None:
    for answer in (
        await client.get("/api/health"),
        await client.get("/api/contacts"),  # 401
        await client.get("/api/no-such-route"),  # 404
        await client.post("/api/auth/login", content=b"{"),  # 400
    ):
        for name, value in SECURITY.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)
        assert answer.headers.get("x-request-id")
        assert "strict-transport-security" not in answer.headers
        assert "access-control-allow-origin" not in answer.headers


async def test_no_cors_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/contacts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_and_hsts_by_setting(settings: Settings) -> None:
    own = settings.model_copy(
        update={"cors_origins": "https://app.example, https://admin.example", "hsts": True}
    )
    app: FastAPI = create_app(own)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as c:
            allowed = await c.options(
                "/api/contacts",
                headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
            )
            assert allowed.headers["access-control-allow-origin"] == "https://app.example"
            other = await c.get("/api/health", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
            assert other.headers["strict-transport-security"].startswith("max-age=")
