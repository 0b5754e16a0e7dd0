"""Accounts and requests for API tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"
_seq = itertools.count()


@dataclass
class Account:
    """A registered user with their first company."""

    client: httpx.AsyncClient
    token: str
    user_id: str
    company_id: str
    email: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **self.extra}

    def in_company(self, company_id: str) -> Account:
        return Account(
            self.client,
            self.token,
            self.user_id,
            company_id,
            self.email,
            {"X-Company-Id": company_id},
        )

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.headers, **kw)

    async def post(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(url, json=json, headers=self.headers, **kw)

    async def put(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.put(url, json=json, headers=self.headers, **kw)

    async def patch(self, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.patch(url, json=json, headers=self.headers, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.delete(url, headers=self.headers, **kw)

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """Any method, for suites that walk routes generically."""
        return await self.client.request(method, url, headers=self.headers, **kw)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_seq)}@example.com"


async def register(client: httpx.AsyncClient, **fields: Any) -> Account:
    body = {"email": unique_email(), "password": PASSWORD, "name": "Test User", **fields}
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Account(
        client, data["token"], data["user"]["id"], data["company"]["id"], data["user"]["email"]
    )


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False, body
    return body["error"]["code"]


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the exact status, the error envelope's exact shape and its code; return `error`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], list), error
    return error


def detail_fields(error: dict[str, Any]) -> set[str]:
    """The fields a validation error names in its details."""
    return {d["field"] for d in error["details"]}
