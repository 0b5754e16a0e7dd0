"""Activities: overdue is computed from the due time and filterable."""

from __future__ import annotations

from typing import Any

from tests.helpers import Account, data, expect_error


async def activity(account: Account, due_at: str, **fields: Any) -> dict[str, Any]:
    body = {"type": "task", "subject": "Follow up", "due_at": due_at, **fields}
    if "due_time" not in fields:
        body["due_time"] = "09:00"
    return data(await account.post("/api/crm/activities", json=body), 201)


async def ids(account: Account, **params: Any) -> set[str]:
    return {a["id"] for a in data(await account.get("/api/crm/activities", params=params))}


async def test_overdue_is_computed_and_filterable(books: Account) -> None:
    past = await activity(books, "2020-01-01")
    future = await activity(books, "2999-01-01", due_time=None)
    done = await activity(books, "2020-01-02", done=True)
    assert (past["due_at"], past["due_time"]) == ("2020-01-01", "09:00")
    assert (past["status"], past["overdue"]) == ("overdue", True)
    assert (future["status"], future["overdue"]) == ("open", False)
    assert (done["status"], done["overdue"], done["done_at"] is not None) == ("done", False, True)
    assert await ids(books, status="overdue") == {past["id"]}
    assert await ids(books, status="open") == {future["id"]}
    assert await ids(books, status="done") == {done["id"]}
    finished = data(await books.put(f"/api/crm/activities/{past['id']}", json={"done": True}))
    assert (finished["status"], finished["overdue"]) == ("done", False)
    assert await ids(books, status="overdue") == set()
    reopened = data(await books.put(f"/api/crm/activities/{past['id']}", json={"done": False}))
    assert reopened["status"] == "overdue" and reopened["done_at"] is None


async def test_related_objects_must_be_this_companys(books: Account, mallory: Account) -> None:
    contact = data(await mallory.post("/api/contacts", json={"name": "M"}), 201)
    response = await books.post(
        "/api/crm/activities",
        json={
            "type": "call",
            "subject": "x",
            "due_at": "2026-12-01",
            "contact_id": contact["id"],
        },
    )
    expect_error(response, 400, "invalid_reference")
    response = await books.post(
        "/api/crm/activities",
        json={"type": "call", "subject": "x", "due_at": "2026-12-01", "due_time": "25:00"},
    )
    expect_error(response, 400, "validation_error")
