"""Projects, tasks and time: the area's own rules (the conformance suite covers the generic
behaviour). Rates (task, person, project), the 24-hour day, closed projects, approval locks,
the figures of a project's read, and invoicing time: lines, marks, no double invoicing, the
release of entries when the invoice is cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error

Doc = dict[str, Any]


async def employee(account: Account, name: str = "Erin") -> Doc:
    return data(
        await account.post("/api/contacts", json={"type": "employee", "name": bk.unique(name)}),
        201,
    )


async def project(account: Account, **fields: Any) -> Doc:
    customer = await bk.contact(account)
    body = {"name": bk.unique("Project"), "customer_id": customer["id"], **fields}
    return data(await account.post("/api/projects", json=body), 201)


async def task(account: Account, project_id: str, **fields: Any) -> Doc:
    body = {"name": bk.unique("Task"), **fields}
    return data(await account.post(f"/api/projects/{project_id}/tasks", json=body), 201)


async def entry(account: Account, **fields: Any) -> Doc:
    return data(await account.post("/api/projects/time", json=fields), 201)


async def get_project(account: Account, id: str) -> Doc:
    return data(await account.get(f"/api/projects/{id}"))


async def test_the_rate_comes_from_the_task_then_the_person_then_the_project(
    books: Account,
) -> None:
    erin, finn = await employee(books), await employee(books, "Finn")
    p = await project(books, hourly_rate=100, person_rates=[{"person_id": erin["id"], "rate": 80}])
    rated = await task(books, p["id"], rate=150)
    plain = await task(books, p["id"])
    day = "2026-11-03"
    by_task = await entry(
        books, project_id=p["id"], task_id=rated["id"], person_id=erin["id"], date=day, hours=2
    )
    by_person = await entry(
        books, project_id=p["id"], task_id=plain["id"], person_id=erin["id"], date=day, hours=1.5
    )
    by_project = await entry(books, project_id=p["id"], person_id=finn["id"], date=day, hours=3)
    assert (by_task["rate"], by_task["rate_source"], by_task["amount"]) == (150, "task", 300)
    assert (by_person["rate"], by_person["rate_source"], by_person["amount"]) == (
        80,
        "person",
        120,
    )
    assert (by_project["rate"], by_project["rate_source"], by_project["amount"]) == (
        100,
        "project",
        300,
    )
    assert by_task["billable"] is True and by_task["currency"] == "USD"

    no_rate = await project(books)
    response = await books.post(
        "/api/projects/time",
        json={"project_id": no_rate["id"], "person_id": erin["id"], "date": day, "hours": 1},
    )
    expect_error(response, 400, "no_rate")
    # Non-billable time needs no rate; a non-billable task's time is not billed.
    free = await entry(
        books, project_id=no_rate["id"], person_id=erin["id"], date=day, hours=1, billable=False
    )
    assert (free["billable"], free["rate"], free["amount"]) == (False, None, 0)
    internal = await task(books, p["id"], billable=False, rate=999)
    unbilled = await entry(
        books, project_id=p["id"], task_id=internal["id"], person_id=finn["id"], date=day, hours=1
    )
    assert (unbilled["billable"], unbilled["amount"]) == (False, 0)


async def test_time_on_a_fixed_fee_or_non_billable_project_is_never_billable(
    books: Account,
) -> None:
    erin = await employee(books)
    for method in ("fixed_fee", "non_billable"):
        p = await project(books, billing_method=method, hourly_rate=100)
        made = await entry(
            books, project_id=p["id"], person_id=erin["id"], date="2026-11-04", hours=2
        )
        assert (made["billable"], made["amount"]) == (False, 0)
        response = await books.post(
            "/api/projects/time",
            json={
                "project_id": p["id"],
                "person_id": erin["id"],
                "date": "2026-11-04",
                "hours": 1,
                "billable": True,
            },
        )
        expect_error(response, 400, "validation_error")


async def test_hours_are_over_zero_or_come_from_start_and_end(books: Account) -> None:
    erin = await employee(books)
    p = await project(books, hourly_rate=60)
    base = {"project_id": p["id"], "person_id": erin["id"], "date": "2026-11-05"}
    for bad in (
        {"hours": 0},
        {"hours": -1},
        {"hours": 24.5},
        {},
        {"start": "10:00"},
        {"start": "10:00", "end": "09:00"},
        {"start": "09:00", "end": "10:00", "hours": 2},
        {"start": "9:00", "end": "10:00"},
    ):
        response = await books.post("/api/projects/time", json={**base, **bad})
        expect_error(response, 400, "validation_error")
    clocked = await entry(books, **base, start="09:15", end="11:45")
    assert (clocked["hours"], clocked["amount"]) == (2.5, 150)
    # The hours of an open entry can change: the clock goes, the amount follows.
    changed = data(await books.put(f"/api/projects/time/{clocked['id']}", json={"hours": 1.25}))
    assert (changed["hours"], changed.get("start"), changed.get("end"), changed["amount"]) == (
        1.25,
        None,
        None,
        75,
    )


async def test_a_persons_day_holds_at_most_24_hours(books: Account) -> None:
    erin = await employee(books)
    a, b = await project(books, hourly_rate=50), await project(books, hourly_rate=50)
    day = {"person_id": erin["id"], "date": "2026-11-06"}
    first = await entry(books, project_id=a["id"], hours=10, **day)
    await entry(books, project_id=b["id"], hours=13.5, **day)
    over = await books.post(
        "/api/projects/time", json={"project_id": a["id"], "hours": 0.75, **day}
    )
    error = expect_error(over, 409, "day_over_24h")
    assert error["details"] == [{"date": "2026-11-06", "logged": 23.5, "limit": 24}]
    await entry(books, project_id=a["id"], hours=0.5, **day)  # exactly 24
    # An update counts the rest of the day, not the entry itself.
    data(await books.put(f"/api/projects/time/{first['id']}", json={"hours": 10}))
    response = await books.put(f"/api/projects/time/{first['id']}", json={"hours": 10.01})
    expect_error(response, 409, "day_over_24h")
    # Another day and another person are their own.
    await entry(books, project_id=a["id"], hours=24, person_id=erin["id"], date="2026-11-07")
    finn = await employee(books, "Finn")
    await entry(books, project_id=a["id"], hours=24, person_id=finn["id"], date="2026-11-06")


async def test_concurrent_entries_never_overfill_a_day(books: Account) -> None:
    erin = await employee(books)
    p = await project(books, hourly_rate=50)
    body = {"project_id": p["id"], "person_id": erin["id"], "date": "2026-11-09", "hours": 5}
    answers = await asyncio.gather(*(books.post("/api/projects/time", json=body) for _ in range(8)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 4 + [409] * 4, statuses
    listed = await books.get(
        "/api/projects/time", params={"person_id": erin["id"], "from": "2026-11-09"}
    )
    assert sum(e["hours"] for e in data(listed)) == 20


@pytest.mark.parametrize("verb", ["complete", "cancel"])
async def test_no_time_on_a_completed_or_cancelled_project(books: Account, verb: str) -> None:
    erin = await employee(books)
    p = await project(books, hourly_rate=50)
    made = await entry(books, project_id=p["id"], person_id=erin["id"], date="2026-11-10", hours=1)
    closed = data(await books.post(f"/api/projects/{p['id']}/{verb}"))
    assert closed["status"] == ("completed" if verb == "complete" else "cancelled")
    body = {"project_id": p["id"], "person_id": erin["id"], "date": "2026-11-11", "hours": 1}
    expect_error(await books.post("/api/projects/time", json=body), 409, "project_closed")
    response = await books.put(f"/api/projects/time/{made['id']}", json={"hours": 2})
    expect_error(response, 409, "project_closed")
    # A closed project's content is locked too, its notes are not.
    expect_error(
        await books.put(f"/api/projects/{p['id']}", json={"name": "Renamed"}), 409, "project_closed"
    )
    data(await books.put(f"/api/projects/{p['id']}", json={"notes": "Wrapped up"}))


async def test_a_task_of_another_project_is_refused(books: Account) -> None:
    erin = await employee(books)
    a, b = await project(books, hourly_rate=50), await project(books, hourly_rate=50)
    other = await task(books, b["id"])
    body = {
        "project_id": a["id"],
        "task_id": other["id"],
        "person_id": erin["id"],
        "date": "2026-11-12",
        "hours": 1,
    }
    error = expect_error(
        await books.post("/api/projects/time", json=body), 400, "invalid_reference"
    )
    assert error["details"][0]["field"] == "task_id"
    customer = await bk.contact(books)
    body = {**body, "task_id": None, "person_id": customer["id"]}
    expect_error(await books.post("/api/projects/time", json=body), 400, "invalid_reference")


async def test_approval_locks_entries(books: Account) -> None:
    erin, finn = await employee(books), await employee(books, "Finn")
    p = await project(books, hourly_rate=50)
    week = [
        await entry(books, project_id=p["id"], person_id=erin["id"], date=d, hours=2)
        for d in ("2026-11-16", "2026-11-18", "2026-11-22")
    ]
    later = await entry(books, project_id=p["id"], person_id=erin["id"], date="2026-11-23", hours=1)
    theirs = await entry(
        books, project_id=p["id"], person_id=finn["id"], date="2026-11-17", hours=1
    )
    approved = await books.post(
        "/api/projects/time/approve-range",
        json={"from_date": "2026-11-16", "to_date": "2026-11-22", "person_id": erin["id"]},
    )
    assert data(approved) == {"approved": 3}
    for made in week:
        got = data(await books.get(f"/api/projects/time/{made['id']}"))
        assert got["status"] == "approved"
        response = await books.put(f"/api/projects/time/{made['id']}", json={"hours": 3})
        expect_error(response, 409, "entry_locked")
        expect_error(await books.delete(f"/api/projects/time/{made['id']}"), 409, "entry_locked")
    for free in (later, theirs):
        assert data(await books.get(f"/api/projects/time/{free['id']}"))["status"] == "open"
    # Unapproving opens it again; one entry approves on its own.
    opened = data(await books.post(f"/api/projects/time/{week[0]['id']}/unapprove"))
    assert opened["status"] == "open"
    data(await books.put(f"/api/projects/time/{week[0]['id']}", json={"notes": "Fixed"}))
    assert data(await books.post(f"/api/projects/time/{later['id']}/approve"))["status"] == (
        "approved"
    )
    again = await books.post(
        "/api/projects/time/approve-range",
        json={"from_date": "2026-11-01", "to_date": "2026-11-30", "project_id": p["id"]},
    )
    assert data(again) == {"approved": 2}  # week[0] again, and Finn's


async def approved_time(books: Account) -> tuple[Doc, dict[str, Doc], list[Doc]]:
    """A project at 100/h with two tasks (design at 150/h), two people, approved time."""
    erin, finn = await employee(books), await employee(books, "Finn")
    p = await project(books, code="WEB", hourly_rate=100, budget_hours=20, budget_amount=2000)
    design = await task(books, p["id"], name="Design", rate=150)
    build = await task(books, p["id"], name="Build")
    rows = [
        (design, erin, "2026-11-02", 2, None),
        (design, finn, "2026-11-03", 1.5, None),
        (build, erin, "2026-11-04", 4, None),
        (None, finn, "2026-11-05", 0.5, False),
        (build, finn, "2026-12-01", 3, None),
    ]
    made = []
    for t, person, day, hours, billable in rows:
        fields: Doc = {"project_id": p["id"], "person_id": person["id"], "date": day}
        if t is not None:
            fields["task_id"] = t["id"]
        if billable is not None:
            fields["billable"] = billable
        made.append(await entry(books, hours=hours, **fields))
    await books.post(
        "/api/projects/time/approve-range",
        json={"from_date": "2026-11-01", "to_date": "2026-11-30", "project_id": p["id"]},
    )
    return p, {"design": design, "build": build, "erin": erin, "finn": finn}, made


async def test_a_projects_read_shows_its_time(books: Account) -> None:
    p, _, _ = await approved_time(books)
    got = await get_project(books, p["id"])
    # 2 h x 150 + 1.5 h x 150 + 4 h x 100 + 3 h x 100 (billable); 0.5 h not billable
    assert {k: got[k] for k in ("hours_logged", "billable_hours", "billable_amount")} == {
        "hours_logged": 11,
        "billable_hours": 10.5,
        "billable_amount": 1225,
    }
    assert (got["billed_amount"], got["unbilled_amount"]) == (0, 1225)
    assert (got["budget_hours_used"], got["budget_amount_used"]) == (55, 61.25)
    listed = data(await books.get("/api/projects", params={"search": p["name"]}))
    assert listed == [got]


async def test_invoice_from_time(books: Account) -> None:
    p, _, made = await approved_time(books)
    url = f"/api/projects/{p['id']}/invoice"
    body = {"from_date": "2026-11-01", "to_date": "2026-11-30", "issued_at": "2026-12-01"}
    result = data(await books.post(url, json=body))
    invoice = result["invoice"]
    assert (result["entries"], result["hours"], result["amount"]) == (3, 7.5, 925)
    assert invoice["status"] == "draft" and invoice["type"] == "invoice"
    assert invoice["contact_id"] == p["customer_id"] and invoice["due_at"] == "2026-12-31"
    assert invoice["reference"] == "WEB"
    lines = [(x["name"], x["quantity"], x["price"], x["total"]) for x in invoice["lines"]]
    assert lines == [("Design", 3.5, 150, 525), ("Build", 4, 100, 400)]
    assert invoice["total"] == 925
    for i in (0, 1, 2):
        got = data(await books.get(f"/api/projects/time/{made[i]['id']}"))
        assert (got["status"], got["invoice_id"], got["invoice_number"]) == (
            "invoiced",
            invoice["id"],
            invoice["number"],
        )
        expect_error(
            await books.put(f"/api/projects/time/{made[i]['id']}", json={"hours": 1}),
            409,
            "entry_locked",
        )
        expect_error(await books.delete(f"/api/projects/time/{made[i]['id']}"), 409, "entry_locked")
    # Not billable, not approved or out of range: left alone.
    for i in (3, 4):
        got = data(await books.get(f"/api/projects/time/{made[i]['id']}"))
        assert got["status"] != "invoiced" and got.get("invoice_id") is None
    figures = await get_project(books, p["id"])
    assert (figures["billed_amount"], figures["unbilled_amount"]) == (925, 300)
    # Invoicing again finds nothing left to invoice.
    assert data(await books.post(url, json=body)) == {
        "invoice": None,
        "entries": 0,
        "hours": 0,
        "amount": 0,
    }
    invoiced = data(await books.get("/api/projects/time", params={"invoice_id": invoice["id"]}))
    assert sorted(e["id"] for e in invoiced) == sorted(e["id"] for e in made[:3])


async def test_lines_by_person_and_per_entry(books: Account) -> None:
    p, named, _ = await approved_time(books)
    url = f"/api/projects/{p['id']}/invoice"
    by_person = data(await books.post(url, json={"group_by": "person", "to_date": "2026-11-03"}))
    erin, finn = named["erin"]["name"], named["finn"]["name"]
    assert [(x["name"], x["quantity"], x["price"]) for x in by_person["invoice"]["lines"]] == [
        (erin, 2, 150),
        (finn, 1.5, 150),
    ]
    per_entry = data(await books.post(url, json={"group_by": "entry"}))
    assert [(x["name"], x["quantity"], x["price"]) for x in per_entry["invoice"]["lines"]] == [
        ("2026-11-04 Build", 4, 100)
    ]


async def test_cancelling_the_invoice_releases_its_time(books: Account) -> None:
    p, _, made = await approved_time(books)
    url = f"/api/projects/{p['id']}/invoice"
    first = data(await books.post(url, json={"to_date": "2026-11-30"}))["invoice"]
    data(await books.post(f"/api/documents/{first['id']}/cancel"))
    released = data(await books.get(f"/api/projects/time/{made[0]['id']}"))
    assert (released["status"], released.get("invoice_id")) == ("approved", None)
    figures = await get_project(books, p["id"])
    assert (figures["billed_amount"], figures["unbilled_amount"]) == (0, 1225)
    # Invoiced again: the same time on a new invoice.
    second = data(await books.post(url, json={"to_date": "2026-11-30"}))
    assert (second["entries"], second["amount"]) == (3, 925)
    assert second["invoice"]["id"] != first["id"]
    got = data(await books.get(f"/api/projects/time/{made[0]['id']}"))
    assert got["invoice_id"] == second["invoice"]["id"]
    # A deleted invoice releases its time too; the entry is then editable once unapproved.
    data(await books.delete(f"/api/documents/{second['invoice']['id']}"))
    data(await books.post(f"/api/projects/time/{made[0]['id']}/unapprove"))
    data(await books.put(f"/api/projects/time/{made[0]['id']}", json={"hours": 1}))


async def test_invoicing_needs_a_billable_project_with_a_customer(books: Account) -> None:
    internal = await project(books, billing_method="non_billable")
    response = await books.post(f"/api/projects/{internal['id']}/invoice", json={})
    expect_error(response, 409, "not_billable")
    hourly = await project(books, hourly_rate=10)
    response = await books.post(f"/api/projects/{hourly['id']}/invoice", json={"milestones": ["A"]})
    expect_error(response, 400, "validation_error")
    alone = data(
        await books.post("/api/projects", json={"name": bk.unique("Internal"), "hourly_rate": 10}),
        201,
    )
    response = await books.post(f"/api/projects/{alone['id']}/invoice", json={})
    expect_error(response, 409, "no_customer")
    response = await books.post(
        f"/api/projects/{alone['id']}/invoice",
        json={"from_date": "2026-11-02", "to_date": "2026-11-01"},
    )
    expect_error(response, 400, "validation_error")


async def test_a_project_with_time_cannot_be_deleted(books: Account) -> None:
    erin = await employee(books)
    p = await project(books, hourly_rate=50)
    t = await task(books, p["id"])
    await entry(
        books, project_id=p["id"], task_id=t["id"], person_id=erin["id"], date="2026-11-13", hours=1
    )
    expect_error(await books.delete(f"/api/projects/{p['id']}"), 409, "has_time")
    expect_error(await books.delete(f"/api/projects/{p['id']}/tasks/{t['id']}"), 409, "has_time")


async def test_project_checks(books: Account) -> None:
    supplier = await bk.contact(books, "supplier")
    for bad in (
        {"customer_id": supplier["id"]},
        {"starts_at": "2026-11-02", "ends_at": "2026-11-01"},
        {"person_rates": [{"person_id": supplier["id"], "rate": 10}]},
        {"hourly_rate": -1},
        {"billing_method": "hourly_by_magic"},
    ):
        response = await books.post("/api/projects", json={"name": "Bad", **bad})
        assert response.status_code == 400, (bad, response.text)
    erin = await employee(books)
    twice = [{"person_id": erin["id"], "rate": 10}, {"person_id": erin["id"], "rate": 20}]
    response = await books.post("/api/projects", json={"name": "Bad", "person_rates": twice})
    expect_error(response, 400, "validation_error")
    p = await project(books)
    response = await books.put(
        f"/api/projects/{p['id']}", json={"ends_at": "1999-01-01", "starts_at": "2026-01-01"}
    )
    expect_error(response, 400, "validation_error")


async def test_a_fixed_fee_project_invoices_its_milestones(books: Account) -> None:
    milestones = [
        {"name": "Kick-off", "amount": 2000, "due_at": "2026-11-15"},
        {"name": "Beta", "amount": 5000, "due_at": "2027-01-15"},
        {"name": "Launch", "amount": 3000},
    ]
    for bad in (
        {"fixed_fee": 9999, "milestones": milestones},  # over the fee
        {"fixed_fee": 10000, "milestones": [milestones[0], milestones[0]]},
    ):
        body = {"name": "Bad", "billing_method": "fixed_fee", **bad}
        expect_error(await books.post("/api/projects", json=body), 400, "validation_error")
    body = {"name": "Bad", "hourly_rate": 10, "milestones": milestones[:1]}
    expect_error(await books.post("/api/projects", json=body), 400, "validation_error")
    p = await project(
        books, billing_method="fixed_fee", fixed_fee=10000, budget_amount=10000,
        milestones=milestones,
    )  # fmt: skip
    assert [(m["name"], m["amount"], m.get("invoice_id")) for m in p["milestones"]] == [
        ("Kick-off", 2000, None),
        ("Beta", 5000, None),
        ("Launch", 3000, None),
    ]
    assert (p["billable_amount"], p["billed_amount"], p["unbilled_amount"]) == (10000, 0, 10000)
    url = f"/api/projects/{p['id']}/invoice"
    # Due by the end of November: the kick-off only.
    first = data(await books.post(url, json={"to_date": "2026-11-30", "issued_at": "2026-12-01"}))
    assert (first["milestones"], first["amount"], first["entries"]) == (["Kick-off"], 2000, 0)
    invoice = first["invoice"]
    assert [(x["name"], x["quantity"], x["price"]) for x in invoice["lines"]] == [
        ("Kick-off", 1, 2000)
    ]
    got = await get_project(books, p["id"])
    assert got["milestones"][0]["invoice_number"] == invoice["number"]
    assert (got["billed_amount"], got["unbilled_amount"], got["budget_amount_used"]) == (
        2000,
        8000,
        100,
    )
    # An invoiced milestone is fixed; naming it again is refused; the others can change.
    changed = [{**milestones[0], "amount": 1500}, *milestones[1:]]
    response = await books.put(f"/api/projects/{p['id']}", json={"milestones": changed})
    expect_error(response, 409, "milestone_invoiced")
    response = await books.post(url, json={"milestones": ["Kick-off"]})
    expect_error(response, 409, "milestone_invoiced")
    expect_error(await books.post(url, json={"milestones": ["Nope"]}), 400, "validation_error")
    renamed = [milestones[0], {**milestones[1], "amount": 4000}, milestones[2]]
    data(await books.put(f"/api/projects/{p['id']}", json={"milestones": renamed}))
    # PUT takes what GET gave (the read-only invoice fields included).
    again = await get_project(books, p["id"])
    data(await books.put(f"/api/projects/{p['id']}", json={"milestones": again["milestones"]}))
    rest = data(await books.post(url, json={}))
    assert (rest["milestones"], rest["amount"]) == (["Beta", "Launch"], 7000)
    assert data(await books.post(url, json={})) == {
        "invoice": None, "entries": 0, "hours": 0, "amount": 0, "milestones": [],
    }  # fmt: skip
    # Cancelling the first invoice frees its milestone.
    data(await books.post(f"/api/documents/{invoice['id']}/cancel"))
    got = await get_project(books, p["id"])
    assert got["milestones"][0].get("invoice_id") is None
    assert (got["billed_amount"], got["unbilled_amount"]) == (7000, 3000)
    again = data(await books.post(url, json={"milestones": ["Kick-off"]}))
    assert again["amount"] == 2000
    expect_error(await books.delete(f"/api/projects/{p['id']}"), 409, "has_invoices")
