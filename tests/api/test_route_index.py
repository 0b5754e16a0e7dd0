"""The route index changes which routes a request tries, never what answers it (but for a
405's `Allow`, which lists the methods of every route of the path)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api.routing import RouteIndex, app_routes
from tests.helpers import Account

REQUESTS = [
    ("GET", "/api/health"),
    ("GET", "/api/contacts"),
    ("GET", "/api/contacts/"),
    ("GET", "/api/contacts/not-an-id"),
    ("GET", "/api/contacts/6745a1c2e4b0f3a9d2c81e57"),
    ("PATCH", "/api/contacts"),
    ("DELETE", "/api/auth/login"),
    ("GET", "/api/documents?type=invoice"),
    ("GET", "/api/estimates"),
    ("GET", "/api/accounting/journal"),
    ("GET", "/api/reports/trial-balance"),
    ("GET", "/api/jobs"),
    ("GET", "/api/ai-insights/status"),
    ("GET", "/api/ai-insights/shared"),
    ("POST", "/api/ai-insights/memory-hook"),
    ("GET", "/api/ai-insights/insights/6745a1c2e4b0f3a9d2c81e57"),
    ("GET", "/api/ai-insights/insights"),
    ("DELETE", "/api/ai-insights/analyse"),
    ("GET", "/api/tai/bugs"),
    ("GET", "/api/tai/bugfix/runs/6745a1c2e4b0f3a9d2c81e57"),
    ("GET", "/api/contacts/6745a1c2e4b0f3a9d2c81e57/more"),
    ("GET", "/static/dashboard/app.js"),
    ("GET", "/api/nothing-here"),
    ("GET", "/api"),
    ("GET", "/elsewhere"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/openapi.yaml"),
    ("GET", "/api/docs"),
]


def test_the_app_is_indexed(app: FastAPI) -> None:
    assert [type(r) for r in app.router.routes] == [RouteIndex]
    contexts = [getattr(r, "effective_route_contexts", None) for r in app_routes(app)]
    assert sum(len(list(c())) if c else 1 for c in contexts) > 100


@pytest.mark.parametrize(("method", "url"), REQUESTS)
async def test_answers_as_without_the_index(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, method: str, url: str
) -> None:
    indexed = app.router.routes
    answers = []
    for routes in (indexed, app_routes(app)):
        app.router.routes = routes
        try:
            response = await client.request(method, url, headers=alice.headers)
        finally:
            app.router.routes = indexed
        allow = response.headers.get("allow")
        answers.append((response.status_code, allow and set(allow.split(", ")), response.content))
    (status, allow, content), (plain_status, plain_allow, plain_content) = answers
    assert (status, content) == (plain_status, plain_content)
    # a 405 lists every method of its path; without the index only the first route's
    assert allow == plain_allow or (status == 405 and plain_allow < allow)
