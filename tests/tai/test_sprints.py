"""Sprints: one active at a time (409, also when started concurrently), completion carries
unfinished items to the next sprint (or the backlog) and records the scope history."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import Account, data, expect_error


async def sprint(
    account: Account, name: str, starts: str = "2026-12-07", **more: Any
) -> dict[str, Any]:
    body = {"name": name, "starts_at": starts, "ends_at": "2027-03-31", **more}
    return data(await account.post("/api/tai/sprint", json=body), 201)


async def patch(account: Account, sprint_id: str, **changes: Any) -> Any:
    return await account.patch(f"/api/tai/sprint/{sprint_id}", json=changes)


async def test_one_active_sprint_at_a_time(books: Account) -> None:
    assert data(await books.get("/api/tai/sprint/active")) is None
    first, second = await sprint(books, "S1"), await sprint(books, "S2")
    started = data(await patch(books, first["id"], status="active"))
    assert started["status"] == "active" and started["started_at"]
    error = expect_error(await patch(books, second["id"], status="active"), 409, "sprint_active")
    assert error["details"] == [{"active_sprint_id": first["id"]}]
    expect_error(await books.post(f"/api/tai/sprints/{second['id']}/start"), 409, "sprint_active")
    assert data(await books.get("/api/tai/sprint/active"))["id"] == first["id"]
    data(await patch(books, first["id"], status="closed"))
    data(await patch(books, second["id"], status="active"))
    expect_error(await patch(books, first["id"], status="active"), 409, "invalid_transition")
    expect_error(await patch(books, first["id"], name="Renamed"), 409, "sprint_closed")


async def test_concurrent_starts_one_wins(books: Account) -> None:
    sprints = [await sprint(books, f"S{n}") for n in range(6)]
    answers = await asyncio.gather(*(patch(books, s["id"], status="active") for s in sprints))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409, 409]
    listed = data(await books.get("/api/tai/sprints", params={"status": "active"}))
    assert len(listed) == 1


async def test_completion_carries_over_and_records_scope(books: Account) -> None:
    current = await sprint(books, "Current")
    later = await sprint(books, "Later", starts="2027-01-11")
    nearer = await sprint(books, "Next", starts="2027-01-04")

    async def bug(title: str) -> dict[str, Any]:
        body = {"title": title, "sprint_id": current["id"]}
        return data(await books.post("/api/tai/bug", json=body), 201)

    done, open_, dropped, moved_out = [await bug(t) for t in ("done", "open", "drop", "out")]
    shipped = data(
        await books.post(
            "/api/tai/feature",
            json={"title": "Ship it", "sprint_id": current["id"], "status": "planned"},
        ),
        201,
    )
    data(await patch(books, current["id"], status="active"))
    late = await bug("added late")
    data(await books.put(f"/api/tai/bugs/{moved_out['id']}", json={"sprint_id": None}))
    data(await books.post(f"/api/tai/bugs/{done['id']}/fix"))
    data(await books.post(f"/api/tai/bugs/{dropped['id']}/wontfix"))
    data(await books.post(f"/api/tai/features/{shipped['id']}/ship"))
    progress = data(await books.get("/api/tai/sprint/active"))["progress"]
    assert progress == {"items": 5, "done": 2, "percent": 40.0}
    status = data(await books.get("/api/tai/status"))
    assert status["active_sprint"]["percent"] == 40.0

    closed = data(await patch(books, current["id"], status="closed"))
    report = closed["report"]

    def ids(refs: list[dict[str, str]]) -> set[str]:
        return {r["id"] for r in refs}

    assert ids(report["committed"]) == {b["id"] for b in (done, open_, dropped, moved_out)} | {
        shipped["id"]
    }
    assert ids(report["added"]) == {late["id"]}
    assert ids(report["removed"]) == {moved_out["id"]}
    assert ids(report["completed"]) == {done["id"], shipped["id"]}
    assert ids(report["dropped"]) == {dropped["id"]}
    assert ids(report["carried_over"]) == {open_["id"], late["id"]}
    assert report["carried_to"] == nearer["id"]
    assert closed["progress"] == {"items": 5, "done": 2, "percent": 40.0}
    for carried in (open_, late):
        got = data(await books.get(f"/api/tai/bugs/{carried['id']}"))
        assert got["sprint_id"] == nearer["id"]
    assert data(await books.get(f"/api/tai/bugs/{done['id']}"))["sprint_id"] == current["id"]
    assert later["id"] != nearer["id"]


async def test_with_no_future_sprint_work_goes_to_the_backlog(books: Account) -> None:
    only = await sprint(books, "Only")
    b = data(await books.post("/api/tai/bug", json={"title": "x", "sprint_id": only["id"]}), 201)
    data(await books.post(f"/api/tai/sprints/{only['id']}/start"))
    closed = data(await books.post(f"/api/tai/sprints/{only['id']}/complete"))
    assert closed["report"]["carried_to"] is None
    assert data(await books.get(f"/api/tai/bugs/{b['id']}"))["sprint_id"] is None
    expect_error(
        await books.post("/api/tai/bug", json={"title": "y", "sprint_id": only["id"]}),
        409,
        "sprint_closed",
    )
    expect_error(
        await books.post(
            "/api/tai/sprint",
            json={"name": "Bad", "starts_at": "2027-12-31", "ends_at": "2027-12-01"},
        ),
        400,
        "validation_error",
    )
    log = [
        e["type"] for e in data(await books.get("/api/tai/log", params={"sprint_id": only["id"]}))
    ]
    assert log == ["sprint.completed", "sprint.started", "sprint.created"]


async def test_another_companys_sprint_is_out_of_reach(books: Account, owner: Account) -> None:
    from tests.accounting.conftest import new_company

    theirs = await new_company(owner)
    their_sprint = await sprint(theirs, "Theirs")
    expect_error(
        await books.post("/api/tai/bug", json={"title": "x", "sprint_id": their_sprint["id"]}),
        400,
        "invalid_reference",
    )
    expect_error(await patch(books, their_sprint["id"], status="active"), 404, "not_found")
    mine = await sprint(books, "Mine")
    data(await patch(books, mine["id"], status="active"))
    data(await patch(theirs, their_sprint["id"], status="active"))  # one active per company


async def test_experts_one_per_domain(books: Account) -> None:
    experts = data(await books.get("/api/tai/experts"))
    assert [e["domain"] for e in experts] == [
        "banking",
        "crm",
        "general",
        "inventory",
        "invoices",
        "payroll",
    ]
    body = {"name": "Second invoicing expert", "domain": "invoices"}
    expect_error(await books.post("/api/tai/experts", json=body), 409, "duplicate")
    made = data(await books.post("/api/tai/experts", json={**body, "domain": "reports"}), 201)
    assert made["tools"] == ["bugs", "features", "sprints", "roadmap", "log"]
