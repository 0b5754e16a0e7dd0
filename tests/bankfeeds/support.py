"""What the bank-feed tests share: connections, uploads through the job, the feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.accounting import books as bk
from tests.helpers import Account, data

Doc = dict[str, Any]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bankfeeds"
FEEDS = "/api/banking/feeds"
CONNECTIONS = f"{FEEDS}/connections"
RULES = f"{FEEDS}/rules"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


async def connect(co: Account, provider: str = "file", **fields: Any) -> Doc:
    """A connection (and its bank account unless `account_id` is given)."""
    if "account_id" not in fields:
        account = await bk.bank(co, bk.unique("Bank"), **fields.pop("account", {}))
        fields["account_id"] = account["id"]
    body = {"name": bk.unique("Feed"), "provider": provider, **fields}
    return data(await co.post(CONNECTIONS, json=body), 201)


async def upload(co: Account, connection_id: str, content: str, format: str = "ofx") -> Doc:
    """Import a statement through the job (waiting for it); the finished job."""
    body = {"connection_id": connection_id, "format": format, "content": content}
    job = data(await co.post(f"{FEEDS}/import", json=body))["job"]
    assert job["status"] == "succeeded", job
    return job


async def sync(co: Account, connection_id: str) -> Doc:
    job = data(await co.post(f"{FEEDS}/sync", json={"connection_id": connection_id}))["job"]
    assert job["status"] == "succeeded", job
    return job


async def feed(co: Account, **params: Any) -> list[Doc]:
    return data(await co.get(FEEDS, params={"limit": 200, "sort": "date", **params}))


async def line(co: Account, id: str) -> Doc:
    return data(await co.get(f"{FEEDS}/{id}"))


async def rule(co: Account, **fields: Any) -> Doc:
    return data(await co.post(RULES, json={"name": bk.unique("Rule"), **fields}), 201)


async def category(co: Account, type: str = "expense") -> Doc:
    body = {"name": bk.unique("Category"), "type": type}
    return data(await co.post("/api/categories", json=body), 201)


async def assert_balanced(co: Account) -> None:
    trial = await bk.trial_balance(co, as_of="2030-12-31")
    assert trial["balanced"] and trial["total_debit"] == trial["total_credit"], trial
