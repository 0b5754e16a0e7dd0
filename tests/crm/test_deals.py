"""Pipelines and deals: the default pipeline, stage probability, hand-set probability that
survives other edits, won and lost, reopening, the stage history."""

from __future__ import annotations

import itertools
from typing import Any

from tests.helpers import Account, data, detail_fields, expect_error

DEFAULT = [
    ("Qualification", 10, "open"),
    ("Demo", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 70, "open"),
    ("Ready to close", 90, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]


async def contact(account: Account, name: str = "Acme Ltd") -> str:
    body = {"type": "customer", "name": name}
    return data(await account.post("/api/contacts", json=body), 201)["id"]


async def deal(account: Account, **fields: Any) -> dict[str, Any]:
    body = {"name": "Website", "contact_id": await contact(account), "value": 1000, **fields}
    return data(await account.post("/api/crm/deals", json=body), 201)


def stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["name"] == name)


async def put(account: Account, deal_id: str, **changes: Any) -> dict[str, Any]:
    return data(await account.put(f"/api/crm/deals/{deal_id}", json=changes))


async def test_a_new_company_starts_with_the_default_pipeline(books: Account) -> None:
    [pipeline] = data(await books.get("/api/crm/pipelines"))
    assert [(s["name"], s["probability"], s["outcome"]) for s in pipeline["stages"]] == DEFAULT
    assert pipeline["is_default"] is True
    again = data(await books.post("/api/crm/pipelines/default"))
    assert again["id"] == pipeline["id"]
    assert [p["id"] for p in data(await books.get("/api/crm/pipelines"))] == [pipeline["id"]]


async def test_a_company_without_pipelines_gets_the_default_on_first_use(books: Account) -> None:
    [standard] = data(await books.get("/api/crm/pipelines"))
    data(await books.delete(f"/api/crm/pipelines/{standard['id']}"))
    assert data(await books.get("/api/crm/pipelines")) == []
    pipeline = data(await books.post("/api/crm/pipelines/default"))
    assert [(s["name"], s["probability"], s["outcome"]) for s in pipeline["stages"]] == DEFAULT
    assert pipeline["id"] != standard["id"] and pipeline["is_default"] is True


async def test_the_default_pipeline_stays_the_default(books: Account) -> None:
    custom = {
        "name": "Partners",
        "stages": [
            {"name": "Intro", "probability": 20},
            {"name": "Signed", "probability": 100, "outcome": "won"},
            {"name": "Dropped", "probability": 0, "outcome": "lost"},
        ],
    }
    partners = data(await books.post("/api/crm/pipelines", json=custom), 201)
    assert partners["is_default"] is False
    listed = data(await books.get("/api/crm/pipelines"))
    sales = next(p for p in listed if p["is_default"])
    assert sales["name"] == "Sales" and len(listed) == 2
    response = await books.put(f"/api/crm/pipelines/{sales['id']}", json={"is_default": False})
    expect_error(response, 400, "validation_error")
    made = data(await books.put(f"/api/crm/pipelines/{partners['id']}", json={"is_default": True}))
    assert made["is_default"] is True
    assert data(await books.get(f"/api/crm/pipelines/{sales['id']}"))["is_default"] is False
    assert (await deal(books))["pipeline_id"] == partners["id"]
    # the default deleted: the oldest remaining pipeline takes over, no new one is made
    other = data(await books.post("/api/crm/pipelines", json={**custom, "name": "Other"}), 201)
    data(await books.put(f"/api/crm/pipelines/{other['id']}", json={"is_default": True}))
    data(await books.delete(f"/api/crm/pipelines/{other['id']}"))
    again = data(await books.post("/api/crm/pipelines/default"))
    assert again["id"] == sales["id"]
    assert len(data(await books.get("/api/crm/pipelines"))) == 2


async def test_a_deal_without_pipeline_goes_to_the_default_first_stage(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    assert pipeline["name"] == "Sales" and pipeline["is_default"] is True
    assert made["stage_name"] == "Qualification"
    assert made["probability"] == 10 and made["probability_manual"] is False
    assert made["status"] == "open"
    assert made["value"] == 1000 and made["value_base"] == 1000 and made["base_currency"] == "USD"
    assert len(data(await books.get("/api/crm/pipelines"))) == 1


async def test_pipeline_stages_are_checked(books: Account) -> None:
    def body(*stages: tuple[str, int, str]) -> dict[str, Any]:
        return {
            "name": "P",
            "stages": [{"name": n, "probability": p, "outcome": o} for n, p, o in stages],
        }

    cases = [
        body(("A", 10, "open"), ("B", 20, "open"), ("Lost", 0, "lost")),  # no won stage
        body(("A", 10, "open"), ("Won", 90, "won"), ("Lost", 0, "lost")),  # won not 100
        body(("A", 10, "open"), ("Won", 100, "won"), ("Lost", 5, "lost")),  # lost not 0
        body(("A", 10, "open"), ("a", 20, "open"), ("W", 100, "won"), ("L", 0, "lost")),
        body(("W", 100, "won"), ("W2", 100, "won"), ("L", 0, "lost")),  # no open stage
        body(("A", 101, "open"), ("W", 100, "won"), ("L", 0, "lost")),
    ]
    for case in cases:
        expect_error(await books.post("/api/crm/pipelines", json=case), 400, "validation_error")


async def test_probability_follows_the_stage_unless_set_by_hand(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    moved = await put(books, made["id"], stage_id=stage(pipeline, "Demo")["id"])
    assert (moved["stage_name"], moved["probability"], moved["probability_manual"]) == (
        "Demo",
        25,
        False,
    )
    hand = await put(books, made["id"], probability=33)
    assert (hand["probability"], hand["probability_manual"]) == (33, True)
    # a stage move, a rename and a value change keep the hand-set value
    hand = await put(books, made["id"], stage_id=stage(pipeline, "Negotiation")["id"])
    assert (hand["stage_name"], hand["probability"]) == ("Negotiation", 33)
    hand = await put(books, made["id"], name="Website v2", value=2500, notes="tags changed")
    assert hand["probability"] == 33 and hand["value"] == 2500
    # echoing the current value (PUT of what GET gave) changes nothing
    echoed = await put(books, made["id"], probability=33)
    assert echoed["probability_manual"] is True
    back = await put(books, made["id"], probability=None)
    assert (back["probability"], back["probability_manual"]) == (70, False)


async def test_a_hand_set_probability_on_create(books: Account) -> None:
    made = await deal(books, probability=0)
    assert (made["probability"], made["probability_manual"]) == (0, True)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    moved = await put(books, made["id"], stage_id=stage(pipeline, "Proposal")["id"])
    assert moved["probability"] == 0


async def test_a_stage_probability_change_moves_its_open_deals_not_hand_set_ones(
    books: Account,
) -> None:
    follows = await deal(books)
    pinned = await deal(books, probability=15)
    pipeline = data(await books.get(f"/api/crm/pipelines/{follows['pipeline_id']}"))
    stages = [
        {**s, "probability": 20} if s["name"] == "Qualification" else s for s in pipeline["stages"]
    ]
    data(await books.put(f"/api/crm/pipelines/{pipeline['id']}", json={"stages": stages}))
    assert data(await books.get(f"/api/crm/deals/{follows['id']}"))["probability"] == 20
    assert data(await books.get(f"/api/crm/deals/{pinned['id']}"))["probability"] == 15


async def test_win_sets_100_and_reopen_goes_back_to_the_stage(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    await put(books, made["id"], stage_id=stage(pipeline, "Ready to close")["id"])
    won = data(await books.post(f"/api/crm/deals/{made['id']}/win", json={}))
    assert (won["status"], won["stage_name"], won["probability"]) == ("won", "Won", 100)
    assert won["closed_at"] is not None
    # a closed deal keeps its figures: other edits do not recompute them
    edited = await put(books, made["id"], notes="new tag", name="Renamed")
    assert (edited["probability"], edited["stage_name"]) == (100, "Won")
    refused = await books.put(f"/api/crm/deals/{made['id']}", json={"probability": 50})
    expect_error(refused, 409, "deal_closed")
    refused = await books.put(
        f"/api/crm/deals/{made['id']}", json={"stage_id": stage(pipeline, "Demo")["id"]}
    )
    expect_error(refused, 409, "deal_closed")
    reopened = data(await books.post(f"/api/crm/deals/{made['id']}/reopen", json={}))
    assert (reopened["status"], reopened["stage_name"], reopened["probability"]) == (
        "open",
        "Ready to close",
        90,
    )
    assert reopened["closed_at"] is None


async def test_reopen_restores_a_hand_set_probability(books: Account) -> None:
    made = await deal(books, probability=42)
    data(await books.post(f"/api/crm/deals/{made['id']}/win", json={}))
    reopened = data(await books.post(f"/api/crm/deals/{made['id']}/reopen", json={}))
    assert (reopened["probability"], reopened["probability_manual"]) == (42, True)


async def test_lost_needs_a_reason_and_sets_0(books: Account) -> None:
    made = await deal(books)
    error = expect_error(
        await books.post(f"/api/crm/deals/{made['id']}/lose", json={}), 400, "validation_error"
    )
    assert "reason" in detail_fields(error)
    assert data(await books.get(f"/api/crm/deals/{made['id']}"))["status"] == "open"
    body = {"reason": "Budget cut", "closed_at": "2026-11-03"}
    lost = data(await books.post(f"/api/crm/deals/{made['id']}/lose", json=body))
    assert (lost["status"], lost["stage_name"], lost["probability"]) == ("lost", "Lost", 0)
    assert (lost["lost_reason"], lost["closed_at"]) == ("Budget cut", "2026-11-03")
    expect_error(
        await books.post(f"/api/crm/deals/{made['id']}/win", json={}), 409, "invalid_transition"
    )
    reopened = data(await books.post(f"/api/crm/deals/{made['id']}/reopen", json={}))
    assert reopened["lost_reason"] is None and reopened["probability"] == 10


async def test_won_and_lost_stages_are_reached_only_through_the_actions(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    for name in ("Won", "Lost"):
        response = await books.put(
            f"/api/crm/deals/{made['id']}", json={"stage_id": stage(pipeline, name)["id"]}
        )
        assert "stage_id" in detail_fields(expect_error(response, 400, "validation_error"))
    response = await books.put(f"/api/crm/deals/{made['id']}", json={"status": "won"})
    expect_error(response, 400, "read_only_field")


async def test_the_stage_history_keeps_every_stage_with_times(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    await put(books, made["id"], stage_id=stage(pipeline, "Demo")["id"])
    await put(books, made["id"], stage_id=stage(pipeline, "Proposal")["id"])
    await put(books, made["id"], name="same stage, no new visit")
    won = data(await books.post(f"/api/crm/deals/{made['id']}/win", json={}))
    history = won["stage_history"]
    assert [(v["stage_name"], v["probability"]) for v in history] == [
        ("Qualification", 10),
        ("Demo", 25),
        ("Proposal", 50),
        ("Won", 100),
    ]
    for before, after in itertools.pairwise(history):
        assert before["left_at"] == after["entered_at"]
        assert before["entered_at"] <= before["left_at"]
    assert history[-1]["left_at"] is None
    assert history[0]["entered_at"].endswith("Z")


async def test_a_stage_with_deals_cannot_be_removed(books: Account) -> None:
    made = await deal(books)
    pipeline = data(await books.get(f"/api/crm/pipelines/{made['pipeline_id']}"))
    stages = [s for s in pipeline["stages"] if s["name"] != "Qualification"]
    response = await books.put(f"/api/crm/pipelines/{pipeline['id']}", json={"stages": stages})
    expect_error(response, 409, "stage_in_use")
    expect_error(await books.delete(f"/api/crm/pipelines/{pipeline['id']}"), 409, "pipeline_in_use")
    stages = [s for s in pipeline["stages"] if s["name"] != "Demo"]
    changed = data(await books.put(f"/api/crm/pipelines/{pipeline['id']}", json={"stages": stages}))
    assert "Demo" not in [s["name"] for s in changed["stages"]]
    assert [s["id"] for s in changed["stages"]] == [s["id"] for s in stages]


async def test_a_stage_of_another_pipeline_is_refused(books: Account) -> None:
    made = await deal(books)
    other = data(
        await books.post(
            "/api/crm/pipelines",
            json={
                "name": "Other",
                "stages": [
                    {"name": "Start", "probability": 5},
                    {"name": "W", "probability": 100, "outcome": "won"},
                    {"name": "L", "probability": 0, "outcome": "lost"},
                ],
            },
        ),
        201,
    )
    response = await books.put(
        f"/api/crm/deals/{made['id']}", json={"stage_id": other["stages"][0]["id"]}
    )
    expect_error(response, 400, "invalid_reference")
    moved = await put(books, made["id"], pipeline_id=other["id"])
    assert (moved["stage_name"], moved["probability"]) == ("Start", 5)


async def test_an_owner_must_be_a_member(books: Account) -> None:
    response = await books.post(
        "/api/crm/deals",
        json={"name": "X", "contact_id": await contact(books), "owner_id": "a" * 24},
    )
    assert "owner_id" in detail_fields(expect_error(response, 400, "invalid_reference"))
    made = await deal(books)
    assert made["owner_id"] == books.user_id
