"""Fixtures of the API tests: a user whose companies multiply, and a fresh company per test.

Alice keeps exactly one company (other tests rely on it), so tests that need an empty
company, or to change a licence, act as Bob in a company created for them. Creating a
company costs no password hash, unlike registering a user.
"""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import Account, data, register


@pytest.fixture(scope="session")
async def bob(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Bob", company_name="Bob GmbH")


@pytest.fixture
async def company(bob: Account) -> Account:
    """Bob acting (through X-Company-Id) in a brand-new, empty company of his own."""
    created = data(await bob.post("/api/companies", json={"name": "Scratch Co"}), 201)
    return bob.in_company(created["id"])
