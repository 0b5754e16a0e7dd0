"""The dashboard's other pages in a real browser, on the real platform, seeded through the
API in each test:

1. Tai: CI failures posted to `POST /api/tai/e2e-fix` (one three times, one flaky, one
   regressed after a fix, one whose test name carries `<script>`), a bug by hand, a feature
   with a linked bug, an active sprint; the bug board, the status summary, the features
   board and the sprint's progress on the page equal what the API answers, and the
   `<script>` title is shown as text, nothing run;
2. Helpdesk: an SLA policy in all time (not business hours) and tickets under it: one due
   in a minute, one due in 30 minutes, one in 10 hours, one waiting (paused); the breaching
   queue, the breached queue and the open queues by status equal the API's, and once the
   first ticket's minute has passed it is breached on the page as in the API.

Every page's console must stay free of errors (the `tab` fixture).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.accounting import books as bk
from tests.browser.conftest import Tab
from tests.browser.stack import CuttingProxy, email, sign_in, why_no_browser
from tests.helpers import Account, data, register

pytestmark = pytest.mark.e2e
if (reason := why_no_browser()) is not None:
    pytest.skip(reason, allow_module_level=True)

BUG_STATES = ("open", "triaged", "in_progress", "regressed", "fixed", "closed", "wontfix")
LIVE = ("new", "open", "waiting", "on_hold")
SCRIPT = "<script>window.__pwned = true</script><img src=x onerror=window.__pwned=1>"


async def go(page: Any, view: str, section: str) -> None:
    """Follow the navigation link to `view` and wait for its page to be shown, drawn."""
    await page.click(f"#nav a[data-view={view}]")
    await page.wait_for_selector(f"{section}:not([hidden])[data-loaded]")


async def refreshed(page: Any, button: str, section: str) -> None:
    await page.evaluate(f"() => {{ delete document.querySelector('{section}').dataset.loaded }}")
    await page.click(button)
    await page.wait_for_selector(f"{section}[data-loaded]")


async def no_markup_ran(page: Any) -> None:
    assert await page.evaluate("() => document.querySelectorAll('script').length") == 1
    assert await page.evaluate("() => document.querySelectorAll('main img').length") == 0
    assert await page.evaluate("() => window.__pwned") is None


# --- 1. Tai --------------------------------------------------------------------------------------


def failure(test: str, **fields: Any) -> dict[str, Any]:
    return {
        "test_id": f"tests/e2e/{test}",
        "test_name": test.split("::", 1)[1],
        "file": f"tests/e2e/{test.split('::')[0]}",
        "error_type": "AssertionError",
        "message": f"expected {test.split('/')[0]} to add up",
        "commit": "a1b2c3d",
        "branch": "main",
        "environment": "ci",
        **fields,
    }


async def ci(owner: Account, body: dict[str, Any]) -> dict[str, Any]:
    return data(await owner.post("/api/tai/e2e-fix", json=body), 201)["bug"]


async def tai_books(http: httpx.AsyncClient) -> tuple[Account, dict[str, str]]:
    owner = await register(http, name="Tai Owner", company_name="Tai Books", email=email())
    totals = failure("invoices/totals.spec.ts::applies discounts", severity="high")
    for run in ("r1", "r2", "r3"):
        repeated = await ci(owner, {**totals, "run_id": run})
    flaky = await ci(
        owner, failure("inventory/stock.spec.ts::moves stock", severity="low", passed_on_retry=True)
    )
    script = await ci(owner, failure(f"pos/till.spec.ts::{SCRIPT}", severity="medium"))
    regressing = failure("payroll/run.spec.ts::accrues", severity="critical")
    back = await ci(owner, {**regressing, "run_id": "r1"})
    data(await owner.post(f"/api/tai/bugs/{back['id']}/fix"))
    back = await ci(owner, {**regressing, "run_id": "r9", "commit": "f00dbee"})
    assert back["status"] == "regressed" and repeated["occurrences"] == 3
    manual = data(
        await owner.post(
            "/api/tai/bug", json={"title": "Logo blurry", "domain": "web", "severity": "critical"}
        ),
        201,
    )
    data(await owner.post(f"/api/tai/bugs/{manual['id']}/triage"))
    feature = data(
        await owner.post(
            "/api/tai/features",
            json={
                "title": "Recurring <b>invoices</b>",
                "priority": "high",
                "target_release": "2027.1",
            },
        ),
        201,
    )
    data(
        await owner.post(
            f"/api/tai/features/{feature['id']}/link-bug", json={"bug_id": repeated["id"]}
        ),
        201,
    )
    data(await owner.post(f"/api/tai/features/{feature['id']}/start"))
    sprint = data(
        await owner.post(
            "/api/tai/sprint",
            json={
                "name": "Sprint 7",
                "goal": "Green CI",
                "starts_at": "2026-12-01",
                "ends_at": "2026-12-14",
            },
        ),
        201,
    )
    for bug in (repeated, flaky):
        data(await owner.put(f"/api/tai/bugs/{bug['id']}", json={"sprint_id": sprint["id"]}))
    data(await owner.post(f"/api/tai/sprints/{sprint['id']}/start"))
    data(await owner.post(f"/api/tai/bugs/{flaky['id']}/fix"))
    return owner, {"script": script["id"], "flaky": flaky["id"], "regressed": back["id"]}


async def board(page: Any, selector: str, item: str) -> dict[str, Any]:
    """A board as shown: per column, its count and its cards' fields, read from the text."""
    return await page.eval_on_selector_all(
        f"{selector} [data-column]",
        """(cols, item) => Object.fromEntries(cols.map(c => [c.dataset.column, {
            count: Number(c.querySelector('[data-count]').textContent),
            cards: [...c.querySelectorAll(`[data-${item}]`)].map(card => Object.fromEntries(
                [['id', card.dataset[item]], ...[...card.querySelectorAll('[data-field]')]
                    .map(f => [f.dataset.field, f.textContent])]))
        }]))""",
        item,
    )


def bug_card(bug: dict[str, Any]) -> dict[str, str]:
    card = {
        "id": bug["id"],
        "title": bug["title"],
        "severity": bug["severity"],
        "domain": bug["domain"],
        "occurrences": f"x{bug['occurrences']}",
    }
    if bug["flaky"]:
        card["flaky"] = "flaky"
    if bug["regressed"]:
        card["regressed"] = f"regressed x{bug['regressions']}"
    return card


async def test_the_tai_page_shows_what_the_api_answers(
    tab: Tab, proxy: CuttingProxy, http: httpx.AsyncClient
) -> None:
    owner, ids = await tai_books(http)
    other = await bk.fresh_company(owner, name="Quiet Books")
    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    await go(page, "tai", "#tai-page")
    assert await page.is_hidden("#dashboard")

    shown = await board(page, "#bug-board", "bug")
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    expected = {}
    for status in BUG_STATES:
        answer = await owner.get("/api/tai/bugs", params={"status": status, "limit": 50})
        bugs = sorted(data(answer), key=lambda b: (rank[b["severity"]], -b["occurrences"]))
        expected[status] = {
            "count": answer.json()["meta"]["total"],
            "cards": [bug_card(b) for b in bugs],
        }
    assert shown == expected
    assert [c["id"] for c in shown["regressed"]["cards"]] == [ids["regressed"]]
    assert shown["fixed"]["cards"][0]["flaky"] == "flaky"
    assert shown["open"]["count"] == 2

    # the status summary, figure by figure
    status = data(await owner.get("/api/tai/status"))
    figures = dict(
        await page.eval_on_selector_all(
            "#tai-status-table [data-figure]",
            "cs => cs.map(c => [c.dataset.figure, c.textContent])",
        )
    )
    want = {
        f"tai.{k}": str(status[k])
        for k in ("open_bugs", "regressed", "regressions", "flaky", "queue_depth")
    }
    want |= {f"tai.by_severity.{k}": str(v) for k, v in status["by_severity"].items()}
    want |= {f"tai.by_domain.{k}": str(v) for k, v in status["by_domain"].items()}
    assert figures == want and status["open_bugs"] == 4

    # the features board and the sprint
    features = data(await owner.get("/api/tai/features/board"))
    assert await board(page, "#feature-board", "feature") == {
        c["status"]: {
            "count": c["count"],
            "cards": [
                {
                    "id": f["id"],
                    "title": f["title"],
                    "priority": f["priority"],
                    "domain": f["domain"],
                    **({"release": f["target_release"]} if f["target_release"] else {}),
                    "open_bugs": f"{f['open_bugs']} open bugs",
                }
                for f in c["features"]
            ],
        }
        for c in features["columns"]
    }
    sprint = data(await owner.get("/api/tai/sprint/active"))
    p = sprint["progress"]
    assert p == {"items": 2, "done": 1, "percent": 50.0}
    assert await page.text_content("#sprint-box [data-field=progress]") == (
        f"{p['done']} of {p['items']} done ({p['percent']:g}%)"
    )
    assert await page.text_content("#sprint-box [data-field=name]") == sprint["name"]

    # markup in a title is text: the bug's and the feature's
    title = await page.text_content(f"[data-bug='{ids['script']}'] [data-field=title]")
    assert SCRIPT in title
    assert (
        await page.eval_on_selector("#bug-board", "b => b.querySelectorAll('script, img').length")
        == 0
    )
    assert await page.eval_on_selector("#feature-board", "b => b.querySelectorAll('b').length") == 0
    await no_markup_ran(page)

    # another company's Tai page (nothing tracked), then back to the books
    await page.evaluate("() => { delete document.querySelector('#tai-page').dataset.loaded }")
    await page.select_option("#company", other.company_id)
    await page.wait_for_selector("#tai-page[data-loaded]")
    counts = await page.eval_on_selector_all(
        "#bug-board [data-count]", "cs => cs.map(c => c.textContent)"
    )
    assert counts == ["0"] * len(BUG_STATES)
    assert await page.text_content("#sprint-box") == "No active sprint"
    await go(page, "books", "#dashboard")
    assert await page.is_hidden("#tai-page")


# --- 2. Helpdesk ---------------------------------------------------------------------------------

ALL_DAY = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def when(stamp: str | None) -> str:
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp else ""


async def ticket(owner: Account, subject: str, priority: str) -> dict[str, Any]:
    body = {"subject": subject, "priority": priority, "requester_email": "dana@example.com"}
    return data(await owner.post("/api/helpdesk/tickets", json=body), 201)


def row(t: dict[str, Any]) -> dict[str, str]:
    flags = [
        n
        for n, k in (
            ("first response", "first_response_breached"),
            ("resolution", "resolution_breached"),
        )
        if t[k]
    ]
    return {
        "id": t["id"],
        "number": str(t["number"]),
        "subject": t["subject"],
        "priority": t["priority"],
        "status": t["status"].replace("_", " "),
        "sla": t["sla_name"] or "",
        "first_response_due_at": when(t["first_response_due_at"]),
        "resolution_due_at": when(t["resolution_due_at"]),
        "agreement": (t["agreement_status"] or "").replace("_", " "),
        "breached": ", ".join(flags),
    }


async def rows(page: Any, table: str) -> list[dict[str, str]]:
    return await page.eval_on_selector_all(
        f"{table} tr[data-ticket]",
        """rs => rs.map(r => Object.fromEntries([['id', r.dataset.ticket],
            ...[...r.querySelectorAll('[data-field]')]
                .map(f => [f.dataset.field, f.textContent])]))""",
    )


async def queues_match(page: Any, owner: Account, within: int) -> dict[str, Any]:
    """Every queue on the page equals the API's answer for it; answers the API's."""
    soon = data(
        await owner.get("/api/helpdesk/tickets/breaching", params={"within_minutes": within})
    )
    assert await rows(page, "#breaching-table") == [row(t) for t in soon["tickets"]]
    late = data(
        await owner.get("/api/helpdesk/tickets", params={"breached": "true", "sort": "next_due_at"})
    )
    assert await rows(page, "#breached-table") == [row(t) for t in late]
    by_status = {}
    for status in LIVE:
        answer = await owner.get(
            "/api/helpdesk/tickets", params={"status": status, "sort": "next_due_at"}
        )
        by_status[status] = data(answer)
        assert await rows(page, f"#queue-{status}") == [row(t) for t in by_status[status]], status
        shown = await page.text_content(f"#queue-{status}-count")
        assert shown == str(answer.json()["meta"]["total"])
    return {"soon": soon["tickets"], "late": late, **by_status}


async def test_the_helpdesk_page_shows_the_queues_the_api_answers(
    tab: Tab, proxy: CuttingProxy, http: httpx.AsyncClient
) -> None:
    owner = await register(http, name="Desk Owner", company_name="Desk Books", email=email())
    targets = {
        "urgent": {"first_response_minutes": 1, "resolution_minutes": 240},
        "high": {"first_response_minutes": 30, "resolution_minutes": 240},
        "medium": {"first_response_minutes": 600, "resolution_minutes": 1440},
        "low": {"first_response_minutes": 600, "resolution_minutes": 1440},
    }
    policy = {
        "name": "Around the clock",
        "position": 1,
        "business_hours": False,
        "targets": targets,
        "calendar": {"time_zone": "UTC", "hours": ALL_DAY},
    }
    data(await owner.post("/api/helpdesk/slas", json=policy), 201)
    started = time.monotonic()
    late = await ticket(owner, "Site down <script>window.__pwned = true</script>", "urgent")
    soon = await ticket(owner, "Invoice PDF wrong", "high")
    later = await ticket(owner, "Feature question", "medium")
    paused = await ticket(owner, "Waiting on Dana", "low")
    data(await owner.post(f"/api/helpdesk/tickets/{paused['id']}/wait"))
    assert late["sla_name"] == "Around the clock" and not late["breached"]

    page = tab.page
    await sign_in(page, proxy.url, owner.email, view="helpdesk")
    await page.wait_for_selector("#helpdesk-page[data-loaded]")
    found = await queues_match(page, owner, 60)
    assert [t["id"] for t in found["soon"]] == [late["id"], soon["id"]]
    assert found["late"] == [] and [t["id"] for t in found["waiting"]] == [paused["id"]]
    assert found["waiting"][0]["first_response_due_at"] is None  # paused: nothing due
    await no_markup_ran(page)

    # a wider window takes the ten-hour ticket in too
    await page.fill("#breaching-form [name=within_minutes]", "700")
    await refreshed(page, "#breaching-form button[type=submit]", "#helpdesk-page")
    found = await queues_match(page, owner, 700)
    assert [t["id"] for t in found["soon"]] == [late["id"], soon["id"], later["id"]]

    # once the urgent ticket's minute has passed, it is breached (the API says so first)
    while not data(await owner.get("/api/helpdesk/tickets", params={"breached": "true"})):
        assert time.monotonic() - started < 120, "the one-minute ticket never breached"
        await asyncio.sleep(1)
    await refreshed(page, "#helpdesk-refresh", "#helpdesk-page")
    found = await queues_match(page, owner, 700)
    assert [t["id"] for t in found["late"]] == [late["id"]]
    assert [t["id"] for t in found["soon"]] == [soon["id"], later["id"]]
    marked = f"#queue-new tr[data-ticket='{late['id']}']"
    assert await page.text_content(f"{marked} [data-field=breached]") == "first response"
    assert await page.get_attribute(marked, "data-breached") == "true"
    await no_markup_ran(page)
