"""The weighted forecast in a worked example: value x probability in the base currency, by
month of expected close, per pipeline and owner; 0% counts as 0, never as missing."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from memory.ids import utcnow
from tests.helpers import Account, data

COLD = {
    "name": "Cold outreach",
    "stages": [
        {"name": "Cold", "probability": 0},
        {"name": "Won", "probability": 100, "outcome": "won"},
        {"name": "Lost", "probability": 0, "outcome": "lost"},
    ],
}


async def test_the_forecast_of_a_worked_example(
    app: FastAPI, books: Account, alice: Account
) -> None:
    await app.state.store.insert_one(
        "memberships",
        {
            "company_id": books.company_id,
            "user_id": alice.user_id,
            "role": "member",
            "created_at": utcnow(),
        },
    )
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.1}), 201)
    contact = data(await books.post("/api/contacts", json={"name": "Acme"}), 201)["id"]
    sales = data(await books.post("/api/crm/pipelines/default"))
    stage = {s["name"]: s["id"] for s in sales["stages"]}
    cold = data(await books.post("/api/crm/pipelines", json=COLD), 201)

    async def deal(value: Any, close: str | None, **fields: Any) -> dict[str, Any]:
        body = {"name": "D", "contact_id": contact, "value": value, **fields}
        if close:
            body["expected_close_at"] = close
        return data(await books.post("/api/crm/deals", json=body), 201)

    await deal(10000, "2026-12-10")  # Qualification 10% -> 1000
    await deal(5000, "2026-12-11", probability=33)  # by hand -> 1650
    won = await deal(3000, "2026-12-12", stage_id=stage["Negotiation"])
    data(await books.post(f"/api/crm/deals/{won['id']}/win", json={}))  # -> 3000
    lost = await deal(4000, "2026-12-13")
    data(await books.post(f"/api/crm/deals/{lost['id']}/lose", json={"reason": "Price"}))
    eur = await deal(
        1000, "2026-12-14", currency="EUR", stage_id=stage["Proposal"], owner_id=alice.user_id
    )
    assert eur["value_base"] == 1100  # 1000 EUR at 1.1 -> 550 at 50%
    await deal(2000, "2026-12-15", pipeline_id=cold["id"])  # a 0% stage: 0, not missing
    await deal("333.33", "2027-01-05", stage_id=stage["Demo"])
    await deal("333.33", "2027-01-06", stage_id=stage["Demo"])  # 666.66 x 25% = 166.665
    await deal(500, None)  # no date: month null, 50

    report = data(await books.get("/api/crm/forecast"))
    rows = {
        (r["month"], r["pipeline_name"], r["owner_id"]): (r["deals"], r["value"], r["weighted"])
        for r in report["rows"]
    }
    me, her = books.user_id, alice.user_id
    assert rows == {
        ("2026-12", "Sales", me): (3, 18000, 5650),
        ("2026-12", "Sales", her): (1, 1100, 550),
        ("2026-12", "Cold outreach", me): (1, 2000, 0),
        ("2027-01", "Sales", me): (2, 666.66, 166.67),
        (None, "Sales", me): (1, 500, 50),
    }
    assert [(m["month"], m["deals"], m["value"], m["weighted"]) for m in report["months"]] == [
        ("2026-12", 5, 21100, 6200),
        ("2027-01", 2, 666.66, 166.67),
        (None, 1, 500, 50),
    ]
    assert (report["currency"], report["deals"], report["value"], report["weighted"]) == (
        "USD",
        8,
        22266.66,
        6416.67,
    )

    lost_only = data(await books.get("/api/crm/forecast", params={"status": "lost"}))
    assert (lost_only["deals"], lost_only["value"], lost_only["weighted"]) == (1, 4000, 0)
    january = data(await books.get("/api/crm/forecast", params={"from_month": "2027-01"}))
    assert [m["month"] for m in january["months"]] == ["2027-01"]
    hers = data(await books.get("/api/crm/forecast", params={"owner_id": her}))
    assert (hers["deals"], hers["weighted"]) == (1, 550)
    december = data(
        await books.get(
            "/api/crm/forecast", params={"from_month": "2026-12", "to_month": "2026-12"}
        )
    )
    assert (december["deals"], december["weighted"]) == (5, 6200)
    cold_only = data(await books.get("/api/crm/forecast", params={"pipeline_id": cold["id"]}))
    assert [(r["deals"], r["value"], r["weighted"]) for r in cold_only["rows"]] == [(1, 2000, 0)]


async def test_an_empty_forecast_is_zero(books: Account) -> None:
    report = data(await books.get("/api/crm/forecast"))
    assert report == {
        "currency": "USD",
        "rows": [],
        "months": [],
        "deals": 0,
        "value": 0,
        "weighted": 0,
    }


async def test_the_running_totals_match_the_deals_after_every_kind_of_write(
    app: FastAPI, books: Account
) -> None:
    """Creates, edits (stage, probability, value, currency, date, pipeline), win, lose,
    reopen, delete and a stage's probability change: the forecast read from the running
    totals equals the one recomputed from the deals."""
    import random

    from domain.context import Ctx
    from domain.crm import cells

    rng = random.Random(7)
    data(await books.post("/api/currencies", json={"code": "EUR", "rate": 1.2}), 201)
    contact = data(await books.post("/api/contacts", json={"name": "Acme"}), 201)["id"]
    sales = data(await books.post("/api/crm/pipelines/default"))
    cold = data(await books.post("/api/crm/pipelines", json=COLD), 201)
    open_stages = [s["id"] for s in sales["stages"] if s["outcome"] == "open"]
    ids = []
    for i in range(30):
        body: dict[str, Any] = {
            "name": f"D{i}",
            "contact_id": contact,
            "value": rng.randint(1, 9999),
            "expected_close_at": f"2026-{rng.randint(1, 12):02d}-10",
            "stage_id": rng.choice(open_stages),
        }
        if i % 5 == 0:
            body["currency"] = "EUR"
        if i % 7 == 0:
            body["probability"] = rng.randint(0, 100)
        ids.append(data(await books.post("/api/crm/deals", json=body), 201)["id"])
    for i, deal_id in enumerate(ids):
        url = f"/api/crm/deals/{deal_id}"
        match i % 9:
            case 0:
                data(await books.put(url, json={"stage_id": rng.choice(open_stages)}))
            case 1:
                data(await books.put(url, json={"probability": rng.randint(0, 100)}))
            case 2:
                data(await books.put(url, json={"value": rng.randint(1, 9999), "currency": "EUR"}))
            case 3:
                data(await books.put(url, json={"expected_close_at": None}))
            case 4:
                data(await books.put(url, json={"pipeline_id": cold["id"]}))
            case 5:
                data(await books.post(f"{url}/win", json={}))
            case 6:
                data(await books.post(f"{url}/lose", json={"reason": "x"}))
                data(await books.post(f"{url}/reopen", json={}))
            case 7:
                data(await books.delete(url))
            case _:
                data(await books.post(f"{url}/lose", json={"reason": "x"}))
    stages = [{**s, "probability": 33} if s["name"] == "Demo" else s for s in sales["stages"]]
    data(await books.put(f"/api/crm/pipelines/{sales['id']}", json={"stages": stages}))
    kept = {}
    for status in ("open", "won", "lost"):
        kept[status] = data(await books.get("/api/crm/forecast", params={"status": status}))
    ctx = Ctx(app.state.store, books.user_id, books.company_id, "owner")
    await cells.rebuild(ctx)
    for status in ("open", "won", "lost"):
        rebuilt = data(await books.get("/api/crm/forecast", params={"status": status}))
        assert rebuilt == kept[status], status
    assert (
        kept["open"]["deals"] + kept["won"]["deals"] + kept["lost"]["deals"] == 30 - 3
    )  # three deleted
