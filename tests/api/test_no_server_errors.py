"""No route answers a 5xx to bad input: every route of the OpenAPI document, with malformed,
unknown and foreign ids, malformed bodies and bad query strings."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import Account, data

BODIES = [b"{}", b"[]", b'"text"', b'{"amount": 1e400, "lines": [{}], "date": "2026-02-30"}']
QUERIES = ["", "?page=0&limit=100000&sort=zzz", "?from=2026-02-30&to=x&as_of=y&status=zzz"]


@pytest.fixture(scope="module")
async def routes(app: FastAPI, client: httpx.AsyncClient) -> list[tuple[str, str]]:
    spec = (await client.get("/api/openapi.json")).json()
    # Logging out takes no body and succeeds: it would revoke the token every later request
    # uses (tests/security/test_tokens_and_logins.py covers those routes).
    logouts = {("POST", "/api/auth/logout"), ("POST", "/api/auth/logout-all")}
    every = [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]
    return [route for route in every if route not in logouts]


async def test_no_route_answers_a_server_error(
    routes: list[tuple[str, str]], alice: Account, mallory: Account
) -> None:
    theirs = data(
        await mallory.post("/api/contacts", json={"name": "Theirs", "type": "other"}), 201
    )
    ids = ["not-an-id", "0" * 24, theirs["id"]]
    headers = {**alice.headers, "Content-Type": "application/json"}
    failures, sent = [], 0
    for method, path in routes:
        for id in ids if "{" in path else [""]:
            url = re.sub(r"\{[^}]+\}", id, path)
            for query in QUERIES:
                for body in BODIES if method in ("POST", "PUT", "PATCH") else [None]:
                    response = await alice.client.request(
                        method, url + query, headers=headers, content=body
                    )
                    sent += 1
                    if response.status_code >= 500:
                        failures.append((method, url + query, body, response.status_code))
    assert len(routes) > 50 and sent > 500
    assert failures == []
