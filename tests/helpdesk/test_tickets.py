"""Tickets over HTTP: defaults from the category, the SLA applied and re-applied, the
lifecycle and its 409s, replies and first response, the pausing clock, breach filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from domain.helpdesk import calendar, sla
from tests.helpers import Account, data, expect_error

ALL_DAY = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


async def policy(books: Account, **fields) -> dict:
    body = {
        "name": "Always on",
        "position": 1,
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 240}
            for p in ("low", "medium", "high", "urgent")
        },
        "calendar": {"time_zone": "UTC", "hours": ALL_DAY},
        **fields,
    }
    return data(await books.post("/api/helpdesk/slas", json=body), 201)


async def ticket(books: Account, **fields) -> dict:
    body = {"subject": "Cannot log in", "requester_email": "Dana@Example.com", **fields}
    return data(await books.post("/api/helpdesk/tickets", json=body), 201)


async def act(books: Account, t: dict, verb: str, body: dict | None = None):
    return await books.post(f"/api/helpdesk/tickets/{t['id']}/{verb}", json=body or {})


async def test_new_company_has_the_standard_policy(books: Account) -> None:
    policies = data(await books.get("/api/helpdesk/slas"))
    assert [p["name"] for p in policies] == ["Standard"]
    t = await ticket(books, priority="urgent")
    assert t["sla_name"] == "Standard" and t["number"] == 1
    assert t["agreement_status"] == "first_response_due"
    cal = sla.calendar_of({"business_hours": True, "calendar": policies[0]["calendar"]})
    created = sla.parse(t["created_at"])
    assert t["first_response_due_at"] == sla.stamp(calendar.add(cal, created, 30))
    assert t["resolution_due_at"] == sla.stamp(calendar.add(cal, created, 240))
    assert t["requester_email"] == "dana@example.com"


async def test_category_defaults_and_sla_reapplied_on_priority_change(books: Account) -> None:
    me = books.user_id
    category = data(
        await books.post(
            "/api/helpdesk/categories",
            json={"name": "Billing", "default_priority": "high", "default_assignee_id": me},
        ),
        201,
    )
    urgent = await policy(
        books,
        name="Urgent",
        targets={"urgent": {"first_response_minutes": 5, "resolution_minutes": 30}},
    )
    t = await ticket(books, category_id=category["id"])
    assert t["priority"] == "high" and t["assignee_id"] == me
    assert t["sla_name"] == "Standard"  # Urgent covers only urgent tickets
    moved = data(await books.put(f"/api/helpdesk/tickets/{t['id']}", json={"priority": "urgent"}))
    assert moved["sla_id"] == urgent["id"]
    created = sla.parse(t["created_at"])
    assert moved["first_response_due_at"] == sla.stamp(created + timedelta(minutes=5))


async def test_lifecycle_and_its_conflicts(books: Account) -> None:
    t = await ticket(books)
    expect_error(await act(books, t, "close"), 409, "invalid_transition")
    expect_error(await act(books, t, "reopen"), 409, "invalid_transition")
    assert data(await act(books, t, "wait"))["status"] == "waiting"
    waiting = data(await books.get(f"/api/helpdesk/tickets/{t['id']}"))
    assert waiting["agreement_status"] == "paused" and waiting["resolution_due_at"] is None
    assert data(await act(books, t, "open"))["status"] == "open"
    resolved = data(await act(books, t, "resolve"))
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert resolved["agreement_status"] == "fulfilled"
    assert data(await act(books, t, "reopen"))["status"] == "open"
    data(await act(books, t, "resolve"))
    closed = data(await act(books, t, "close"))
    assert closed["status"] == "closed"
    error = expect_error(await act(books, t, "reopen"), 409, "invalid_transition")
    assert error["details"][0]["allowed_actions"] == []
    expect_error(
        await books.put(f"/api/helpdesk/tickets/{t['id']}", json={"subject": "x"}),
        409,
        "ticket_closed",
    )
    reply = await books.post(f"/api/helpdesk/tickets/{t['id']}/replies", json={"body": "hi"})
    expect_error(reply, 409, "ticket_closed")


async def test_first_public_agent_reply_is_the_first_response(books: Account) -> None:
    t = await ticket(books)
    base = f"/api/helpdesk/tickets/{t['id']}/replies"
    data(await books.post(base, json={"body": "Looks like SSO", "internal": True}), 201)
    after_note = data(await books.get(f"/api/helpdesk/tickets/{t['id']}"))
    assert after_note["first_responded_at"] is None and after_note["status"] == "new"
    data(await books.post(base, json={"body": "We are on it."}), 201)
    answered = data(await books.get(f"/api/helpdesk/tickets/{t['id']}"))
    assert answered["first_responded_at"] and answered["status"] == "open"
    assert answered["first_response_breached"] is False
    assert answered["agreement_status"] == "resolution_due"
    assert answered["reply_count"] == 2
    data(await act(books, t, "wait"))
    data(await books.post(base, json={"body": "Still broken", "author": "customer"}), 201)
    resumed = data(await books.get(f"/api/helpdesk/tickets/{t['id']}"))
    assert resumed["status"] == "open" and resumed["resolution_due_at"]
    replies = await books.get(base)
    assert [r["body"] for r in data(replies)] == ["Looks like SSO", "We are on it.", "Still broken"]
    assert replies.json()["meta"]["total"] == 3


async def test_breached_filter_and_breaching_soon(books: Account, app: FastAPI) -> None:
    await policy(books)
    fresh = await ticket(books, subject="fresh")
    # A ticket whose clock started two hours ago (first response target 60 min: breached).
    late = await ticket(books, subject="late")
    store = app.state.services.store
    past = datetime.now(UTC) - timedelta(hours=2)
    doc = await store.find_one("helpdesk_tickets", {"_id": late["id"]})
    doc["created_at"] = sla.stamp(past)
    changes = {"created_at": doc["created_at"], **sla.due_times(doc)}
    await store.update_one("helpdesk_tickets", {"_id": late["id"]}, {"$set": changes})
    breached = data(await books.get("/api/helpdesk/tickets", params={"breached": "true"}))
    assert [t["subject"] for t in breached] == ["late"]
    assert breached[0]["agreement_status"] == "failed" and breached[0]["breached"] is True
    on_time = data(await books.get("/api/helpdesk/tickets", params={"breached": "false"}))
    assert [t["subject"] for t in on_time] == ["fresh"]
    soon = data(await books.get("/api/helpdesk/tickets/breaching", params={"within_minutes": 61}))
    assert [t["id"] for t in soon["tickets"]] == [fresh["id"]]
    none = data(await books.get("/api/helpdesk/tickets/breaching", params={"within_minutes": 30}))
    assert none["tickets"] == []


async def test_ticket_numbers_are_unique_under_concurrency(books: Account) -> None:
    made = await asyncio.gather(*(ticket(books, subject=f"t{i}") for i in range(8)))
    assert sorted(t["number"] for t in made) == list(range(1, 9))


async def test_bad_input(books: Account) -> None:
    r = await books.post("/api/helpdesk/tickets", json={"subject": "x", "category_id": "0" * 24})
    expect_error(r, 400, "invalid_reference")
    r = await books.post("/api/helpdesk/tickets", json={"subject": "x", "assignee_id": "0" * 24})
    expect_error(r, 400, "invalid_reference")
    bad_zone = {
        "name": "Mars",
        "targets": {"low": {"first_response_minutes": 5, "resolution_minutes": 10}},
        "calendar": {"time_zone": "Mars/Olympus"},
    }
    expect_error(await books.post("/api/helpdesk/slas", json=bad_zone), 400, "validation_error")
    overlap = {
        "name": "Overlap",
        "targets": {"low": {"first_response_minutes": 5, "resolution_minutes": 10}},
        "calendar": {
            "hours": {
                "mon": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]
            }
        },
    }
    expect_error(await books.post("/api/helpdesk/slas", json=overlap), 400, "validation_error")
    backwards = {
        "name": "Backwards",
        "targets": {"low": {"first_response_minutes": 50, "resolution_minutes": 10}},
    }
    expect_error(await books.post("/api/helpdesk/slas", json=backwards), 400, "validation_error")


async def test_category_in_use_is_kept(books: Account) -> None:
    category = data(await books.post("/api/helpdesk/categories", json={"name": "Access"}), 201)
    await ticket(books, category_id=category["id"])
    r = await books.delete(f"/api/helpdesk/categories/{category['id']}")
    expect_error(r, 409, "category_in_use")


async def test_another_companys_category_is_not_a_reference(
    books: Account, mallory: Account
) -> None:
    theirs = data(await mallory.post("/api/helpdesk/categories", json={"name": "M only"}), 201)
    r = await books.post(
        "/api/helpdesk/tickets", json={"subject": "x", "category_id": theirs["id"]}
    )
    expect_error(r, 400, "invalid_reference")
