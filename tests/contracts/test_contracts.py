"""Contracts: status from the dates, automatic renewal, signing, copies without the
signature, termination, renewal alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.contracts.contracts import add_months
from tests.helpers import Account, data, expect_error

TODAY = datetime.now(UTC).date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def party(account: Account, type: str = "customer") -> str:
    body = {"type": type, "name": f"Party {type}"}
    return data(await account.post("/api/contacts", json=body), 201)["id"]


async def contract(account: Account, **fields: Any) -> dict[str, Any]:
    body = {"party_id": await party(account), "title": "Support", "value": 1200, **fields}
    return data(await account.post("/api/contracts", json=body), 201)


def test_months_are_added_to_the_last_day_they_have() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


async def test_status_follows_the_dates(books: Account) -> None:
    draft = await contract(books, starts_at=day(5), ends_at=day(100))
    active = await contract(books, starts_at=day(-5), ends_at=day(100))
    open_ended = await contract(books, starts_at=day(-5))
    ends_today = await contract(books, starts_at=day(-5), ends_at=day(0))
    expired = await contract(books, starts_at=day(-50), ends_at=day(-1))
    assert [c["status"] for c in (draft, active, open_ended, ends_today, expired)] == [
        "draft",
        "active",
        "active",
        "active",
        "expired",
    ]
    assert expired["renewal_date"] is None and expired["current_end_at"] == day(-1)
    terminated = data(
        await books.post(
            f"/api/contracts/{active['id']}/terminate",
            json={"reason": "Closed the account", "terminated_at": day(0)},
        )
    )
    assert (terminated["status"], terminated["terminated_at"]) == ("terminated", day(0))
    assert terminated["termination_reason"] == "Closed the account"
    expect_error(
        await books.put(f"/api/contracts/{active['id']}", json={"notes": "x"}),
        409,
        "contract_terminated",
    )

    async def listed(status: str) -> set[str]:
        found = data(await books.get("/api/contracts", params={"status": status}))
        return {c["id"] for c in found}

    assert await listed("draft") == {draft["id"]}
    assert await listed("active") == {open_ended["id"], ends_today["id"]}
    assert await listed("expired") == {expired["id"]}
    assert await listed("terminated") == {active["id"]}


async def test_an_automatic_renewal_rolls_the_term_forward(books: Account) -> None:
    first_end = TODAY - timedelta(days=10)
    renewing = await contract(
        books,
        starts_at=(first_end - timedelta(days=365)).isoformat(),
        ends_at=first_end.isoformat(),
        renewal={"automatic": True, "term_months": 1, "notice_days": 7},
    )
    end = add_months(first_end, 1)
    assert renewing["status"] == "active"
    assert renewing["current_end_at"] == end.isoformat()
    assert renewing["renewal_date"] == (end + timedelta(days=1)).isoformat()
    assert renewing["notice_by"] == (end - timedelta(days=7)).isoformat()
    active = data(await books.get("/api/contracts", params={"status": "active"}))
    assert renewing["id"] in {c["id"] for c in active}
    response = await books.post(
        "/api/contracts",
        json={
            "party_id": await party(books),
            "title": "x",
            "starts_at": day(0),
            "renewal": {"automatic": True},
        },
    )
    expect_error(response, 400, "validation_error")  # automatic needs a first term


async def test_signing_fixes_the_terms_and_a_copy_never_carries_the_signature(
    books: Account,
) -> None:
    made = await contract(books, starts_at=day(-1), ends_at=day(364))
    url = f"/api/contracts/{made['id']}"
    signed = data(
        await books.post(f"{url}/sign", json={"signer": "Dana Reyes", "signed_at": day(-1)})
    )
    assert (signed["signed"], signed["signed_by"], signed["signed_at"]) == (
        True,
        "Dana Reyes",
        day(-1),
    )
    expect_error(await books.post(f"{url}/sign", json={"signer": "X"}), 409, "already_signed")
    expect_error(await books.put(url, json={"value": 1500}), 409, "contract_signed")
    assert data(await books.put(url, json=signed))["value"] == 1200  # PUT of what GET gave
    assert data(await books.put(url, json={"notes": "renewal call in May"}))["notes"]
    copy = data(await books.post(f"{url}/copy"), 201)
    assert copy["id"] != made["id"]
    assert (copy["signed"], copy["signed_by"], copy["signed_at"]) == (False, None, None)
    assert (copy["title"], copy["value"], copy["starts_at"], copy["ends_at"]) == (
        "Support (copy)",
        1200,
        day(-1),
        day(364),
    )
    assert copy["proposal_id"] is None and copy["terminated_at"] is None
    assert data(await books.put(f"/api/contracts/{copy['id']}", json={"value": 1500}))


async def test_a_party_is_a_customer_or_supplier(books: Account) -> None:
    supplier = await contract(books, party_id=await party(books, "supplier"), starts_at=day(0))
    assert supplier["party_type"] == "supplier"
    response = await books.post(
        "/api/contracts",
        json={"party_id": await party(books, "employee"), "title": "x", "starts_at": day(0)},
    )
    expect_error(response, 400, "invalid_reference")


async def test_renewal_alerts_list_what_ends_within_n_days(books: Account) -> None:
    soon = await contract(books, starts_at=day(-100), ends_at=day(10))
    later = await contract(books, starts_at=day(-100), ends_at=day(200))
    notice_soon = await contract(
        books,
        starts_at=day(-100),
        ends_at=day(70),
        renewal={"automatic": True, "term_months": 12, "notice_days": 65},
    )
    gone = await contract(books, starts_at=day(-100), ends_at=day(5))
    data(await books.post(f"/api/contracts/{gone['id']}/terminate", json={"reason": "Ended"}))
    await contract(books, starts_at=day(-100), ends_at=day(-3))  # already expired

    async def expiring(days: int) -> list[str]:
        report = data(await books.get("/api/contracts/expiring", params={"within_days": days}))
        assert report["as_of"] == day(0)
        return [c["id"] for c in report["contracts"]]

    assert await expiring(30) == [notice_soon["id"], soon["id"]]  # notice due in 5 days
    assert await expiring(4) == []
    assert later["id"] in await expiring(365)
    in_range = data(await books.get("/api/contracts", params={"from": day(0), "to": day(30)}))
    assert {c["id"] for c in in_range} == {soon["id"], gone["id"]}


async def test_a_contract_links_to_its_project(books: Account, mallory: Account) -> None:
    customer = await party(books)
    project = data(
        await books.post("/api/projects", json={"name": "Rollout", "customer_id": customer}), 201
    )
    made = await contract(books, party_id=customer, starts_at=day(0), project_id=project["id"])
    assert made["project_id"] == project["id"]
    listed = data(await books.get("/api/contracts", params={"project_id": project["id"]}))
    assert [c["id"] for c in listed] == [made["id"]]
    copy = data(await books.post(f"/api/contracts/{made['id']}/copy"), 201)
    assert copy["project_id"] == project["id"]
    theirs_customer = data(await mallory.post("/api/contacts", json={"name": "M"}), 201)["id"]
    theirs = data(
        await mallory.post(
            "/api/projects", json={"name": "Theirs", "customer_id": theirs_customer}
        ),
        201,
    )
    response = await books.put(f"/api/contracts/{made['id']}", json={"project_id": theirs["id"]})
    expect_error(response, 400, "invalid_reference")
