"""Features: the board and the stats (exact figures), link-bug (a second link 409, another
company's bug 404), the singular spec paths and PATCH."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import Account, data, expect_error


async def feature(account: Account, title: str, **more: Any) -> dict[str, Any]:
    return data(await account.post("/api/tai/feature", json={"title": title, **more}), 201)


async def bug(account: Account, title: str, **more: Any) -> dict[str, Any]:
    return data(await account.post("/api/tai/bug", json={"title": title, **more}), 201)


async def link(account: Account, feature_id: str, bug_id: str) -> Any:
    return await account.post(f"/api/tai/feature/{feature_id}/link-bug", json={"bug_id": bug_id})


async def test_board_and_stats_figures(books: Account) -> None:
    recurring = await feature(books, "Recurring invoices", priority="high", target_release="2027.1")
    dunning = await feature(books, "Dunning", priority="urgent", target_release="2027.1")
    await feature(books, "Stock counts", target_release="2027.2", status="planned")
    export = await feature(books, "CSV export", priority="low")
    data(await books.patch(f"/api/tai/feature/{dunning['id']}", json={"status": "in_progress"}))
    data(await books.patch(f"/api/tai/feature/{export['id']}", json={"status": "planned"}))
    data(await books.post(f"/api/tai/features/{export['id']}/ship"))
    a, b, c = [await bug(books, f"Bug {n}", domain="invoices") for n in range(3)]
    for one in (a, b):
        data(await link(books, recurring["id"], one["id"]), 201)
    data(await link(books, dunning["id"], c["id"]), 201)
    data(await books.post(f"/api/tai/bugs/{b['id']}/fix"))

    board = data(await books.get("/api/tai/features/board"))
    assert [(c["status"], c["count"]) for c in board["columns"]] == [
        ("idea", 1),
        ("planned", 1),
        ("in_progress", 1),
        ("shipped", 1),
    ]
    assert board["total"] == 4
    idea = board["columns"][0]["features"][0]
    assert (idea["title"], idea["open_bugs"]) == ("Recurring invoices", 1)
    assert board["columns"][2]["features"][0]["open_bugs"] == 1

    stats = data(await books.get("/api/tai/features/stats"))
    assert stats["total"] == 4
    assert stats["by_status"] == {"idea": 1, "planned": 1, "in_progress": 1, "shipped": 1}
    assert stats["by_priority"] == {"urgent": 1, "high": 1, "medium": 1, "low": 1}
    assert stats["by_release"] == [
        {
            "release": "2027.1",
            "total": 2,
            "by_status": {"idea": 1, "planned": 0, "in_progress": 1, "shipped": 0},
            "open_bugs": 2,
        },
        {
            "release": "2027.2",
            "total": 1,
            "by_status": {"idea": 0, "planned": 1, "in_progress": 0, "shipped": 0},
            "open_bugs": 0,
        },
        {
            "release": "unscheduled",
            "total": 1,
            "by_status": {"idea": 0, "planned": 0, "in_progress": 0, "shipped": 1},
            "open_bugs": 0,
        },
    ]
    assert stats["open_bugs"] == 2 and stats["shipped_percent"] == 25.0
    got = data(await books.get(f"/api/tai/features/{recurring['id']}"))
    assert (got["bug_count"], got["open_bugs"]) == (2, 1)

    roadmap = data(await books.get("/api/tai/roadmap"))
    assert [
        (r["release"], r["total"], r["shipped"], r["progress"]) for r in roadmap["releases"]
    ] == [
        ("2027.1", 2, 0, 0.0),
        ("2027.2", 1, 0, 0.0),
        ("unscheduled", 1, 1, 100.0),
    ]
    assert [f["title"] for f in roadmap["releases"][0]["features"]] == [
        "Dunning",
        "Recurring invoices",
    ]


async def test_a_bug_links_once(books: Account) -> None:
    one, two = await feature(books, "One"), await feature(books, "Two")
    b = await bug(books, "Broken")
    linked = data(await link(books, one["id"], b["id"]), 201)
    assert linked["feature_id"] == one["id"]
    expect_error(await link(books, one["id"], b["id"]), 409, "already_linked")
    expect_error(await link(books, two["id"], b["id"]), 409, "linked_elsewhere")
    data(await books.put(f"/api/tai/bugs/{b['id']}", json={"feature_id": None}))
    data(await link(books, two["id"], b["id"]), 201)


async def test_concurrent_links_of_one_bug_one_wins(books: Account) -> None:
    features = [await feature(books, f"F{n}") for n in range(5)]
    b = await bug(books, "Contended")
    answers = await asyncio.gather(*(link(books, f["id"], b["id"]) for f in features))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409]


async def test_another_companys_bug_or_feature_is_404(books: Account, owner: Account) -> None:
    from tests.accounting.conftest import new_company

    theirs = await new_company(owner)
    their_bug = await bug(theirs, "Theirs")
    their_feature = await feature(theirs, "Theirs")
    mine_feature = await feature(books, "Mine")
    mine_bug = await bug(books, "Mine")
    expect_error(await link(books, mine_feature["id"], their_bug["id"]), 404, "not_found")
    expect_error(await link(books, their_feature["id"], mine_bug["id"]), 404, "not_found")
    expect_error(
        await books.patch(f"/api/tai/feature/{their_feature['id']}", json={"title": "x"}),
        404,
        "not_found",
    )
    assert data(await theirs.get(f"/api/tai/bugs/{their_bug['id']}"))["feature_id"] is None
    expect_error(
        await books.put(
            f"/api/tai/bugs/{mine_bug['id']}", json={"feature_id": their_feature["id"]}
        ),
        400,
        "invalid_reference",
    )


async def test_patch_and_bad_input(books: Account) -> None:
    f = await feature(books, "Patch me")
    changed = data(await books.patch(f"/api/tai/feature/{f['id']}", json={"priority": "urgent"}))
    assert changed["priority"] == "urgent" and changed["title"] == "Patch me"
    shipped = data(await books.patch(f"/api/tai/feature/{f['id']}", json={"status": "in_progress"}))
    assert shipped["status"] == "in_progress"
    expect_error(
        await books.patch(f"/api/tai/feature/{f['id']}", json={"status": "idea", "priority": "x"}),
        400,
        "validation_error",
    )
    expect_error(await books.patch(f"/api/tai/feature/{f['id']}", json={}), 400, "validation_error")
    expect_error(await books.patch("/api/tai/feature/nope", json={"title": "x"}), 400, "invalid_id")
    expect_error(
        await books.patch("/api/tai/feature/6745a1c2e4b0f3a9d2c81e57", json={"title": "x"}),
        404,
        "not_found",
    )
    expect_error(await books.post("/api/tai/feature", json={"title": ""}), 400, "validation_error")
    expect_error(
        await books.post("/api/tai/feature", json={"title": "x", "status": "shipped"}),
        400,
        "validation_error",
    )
    expect_error(await link(books, f["id"], "nope"), 400, "validation_error")
