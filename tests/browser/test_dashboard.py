"""The dashboard in a real browser (Debian's Chromium under Playwright) on the real platform
(Valkey, the API under uvicorn, a worker process), through a TCP proxy that can drop a
connection:

1. register and sign in through the page (and out, and in again);
2. every figure on the page equals what the API answers for the same period (P&L with its
   comparison, the monthly chart's bars, balance sheet, cash flow, both ageings), and the
   company switcher shows another company's books;
3. an analysis streamed to its end on the page: steps, facts, the narrative token by token,
   the validation outcome, the offline provider labelled;
4. the stream cut in the middle of an event and resumed with Last-Event-ID: the page shows
   every event of the job's stream exactly once and the narrative exactly as validated;
5. a narrative carrying `<script>` (from the fake OpenAI-compatible server) shown as text.

Every page's console must stay free of errors (the `tab` fixture), CSP violations included.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from tests.accounting import books as bk
from tests.ai.fake_llm import MODEL, FakeLLM, quote_facts
from tests.browser.conftest import Tab
from tests.browser.stack import (
    CuttingProxy,
    books,
    email,
    release,
    sign_in,
    stop,
    why_no_browser,
)
from tests.e2e.test_jobs_stack import Stack, stream_rows
from tests.helpers import PASSWORD, Account, data

pytestmark = pytest.mark.e2e
if (reason := why_no_browser()) is not None:  # one skip line for the module, with the reason
    pytest.skip(reason, allow_module_level=True)

PERIOD = {
    "from": "2025-01-01",
    "to": "2025-03-31",
    "compare_from": "2024-10-01",
    "compare_to": "2024-12-31",
}
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
MONTHS = (("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31"))


async def show(page: Any, period: dict[str, str]) -> None:
    """Set the period and wait for every panel to be drawn for it."""
    for name, value in period.items():
        await page.fill(f"#period [name={name}]", value)
    await page.evaluate("() => { delete document.querySelector('#dashboard').dataset.loaded }")
    await page.click("#period button[type=submit]")
    await page.wait_for_selector("#dashboard[data-loaded]")


async def switch(page: Any, company_id: str) -> None:
    await page.evaluate("() => { delete document.querySelector('#dashboard').dataset.loaded }")
    await page.select_option("#company", company_id)
    await page.wait_for_selector("#dashboard[data-loaded]")


async def figures(page: Any) -> dict[str, float]:
    """Every figure on the page, by its key, read from the text shown."""
    cells = await page.eval_on_selector_all(
        "[data-figure]", "cells => cells.map(c => [c.dataset.figure, c.textContent])"
    )
    return {key: float(text.replace(",", "")) for key, text in cells}


def key(row: dict[str, Any]) -> str:
    return row["code"] or row["name"]


def expected_figures(
    pnl: dict[str, Any], balance: dict[str, Any], cash: dict[str, Any], aged: dict[str, Any]
) -> dict[str, float]:
    found: dict[str, float] = {}
    c = pnl["comparison"]
    for section in ("income", "expenses"):
        for row in pnl[section]:
            for suffix, value in (("", row["amount"]), (".previous", row["previous"])):
                found[f"pnl.{section}.{key(row)}{suffix}"] = value
            found[f"pnl.{section}.{key(row)}.change"] = row["change"]
    for name, change in (
        ("total_income", "income_change"),
        ("total_expenses", "expenses_change"),
        ("net_profit", "net_profit_change"),
    ):
        found[f"pnl.{name}"] = pnl[name]
        found[f"pnl.{name}.previous"] = c[name]
        found[f"pnl.{name}.change"] = c[change]["change"]
    for section in ("assets", "liabilities", "equity"):
        for row in balance[section]:
            found[f"balance.{section}.{key(row)}"] = row["amount"]
        found[f"balance.total_{section}"] = balance[f"total_{section}"]
    for name in ("opening_cash", "total_inflows", "total_outflows", "other_movements"):
        found[f"cash.{name}"] = cash[name]
    found["cash.net_change"], found["cash.closing_cash"] = cash["net_change"], cash["closing_cash"]
    for flow in ("inflows", "outflows"):
        for row in cash[flow]:
            found[f"cash.{flow}.{row['name']}"] = row["amount"]
    for kind, report in aged.items():
        for contact in report["contacts"]:
            for bucket in (*BUCKETS, "total"):
                found[f"{kind}.{contact['name']}.{bucket}"] = contact[bucket]
        for bucket in BUCKETS:
            found[f"{kind}.totals.{bucket}"] = report["totals"][bucket]
        found[f"{kind}.total"] = report["total"]
    return found


async def api_figures(owner: Account) -> dict[str, float]:
    as_of = {"as_of": PERIOD["to"]}
    period = {"from": PERIOD["from"], "to": PERIOD["to"]}
    pnl = data(await owner.get("/api/reports/profit-and-loss", params=PERIOD))
    balance = data(await owner.get("/api/reports/balance-sheet", params=as_of))
    cash = data(await owner.get("/api/reports/cash-flow", params=period))
    aged = {
        "receivables": data(await owner.get("/api/reports/aged-receivables", params=as_of)),
        "payables": data(await owner.get("/api/reports/aged-payables", params=as_of)),
    }
    return expected_figures(pnl, balance, cash, aged)


async def bars(page: Any, chart: str) -> list[tuple[str, str, float]]:
    return [
        (series, label, float(value))
        for series, label, value in await page.eval_on_selector_all(
            f"{chart} rect[data-label]",
            "rs => rs.map(r => [r.dataset.series, r.dataset.label, r.dataset.value])",
        )
    ]


# --- 1. register and sign in --------------------------------------------------------------------


async def test_register_sign_out_and_sign_in_again(tab: Tab, proxy: CuttingProxy) -> None:
    page, address = tab.page, email()
    await page.goto(proxy.url + "/")
    assert await page.is_visible("#auth") and await page.is_hidden("#dashboard")
    await page.fill("#register [name=name]", "Ada Lovelace")
    await page.fill("#register [name=email]", address)
    await page.fill("#register [name=password]", PASSWORD)
    await page.fill("#register [name=company_name]", "Analytical Engines")
    await page.click("#register button[type=submit]")
    await page.wait_for_selector("#dashboard:not([hidden])")
    assert await page.text_content("#who") == "Ada Lovelace"
    assert await page.eval_on_selector_all("#company option", "os => os.map(o => o.text)") == [
        "Analytical Engines (owner)"
    ]
    await page.wait_for_selector("#pnl-chart[data-drawn]")

    await page.click("#sign-out")
    await page.wait_for_selector("#auth:not([hidden])")
    await page.fill("#login [name=email]", address)
    await page.fill("#login [name=password]", "not the password")
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#notice:not([hidden])")
    assert "password" in (await page.text_content("#notice")).lower()
    # the 401 of the wrong password is an expected failed load, not an error of the page
    tab.expected.append("401")

    await page.fill("#login [name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#dashboard:not([hidden])")
    assert await page.is_hidden("#notice")
    # the token lives in memory only: nothing in storage, and a reload signs out
    stored = await page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie]"
    )
    assert stored == [0, 0, ""]
    await page.reload()
    await page.wait_for_selector("#auth:not([hidden])")


# --- 2. the figures are the API's ----------------------------------------------------------------


async def test_every_figure_on_the_page_is_the_apis(
    tab: Tab, proxy: CuttingProxy, browser_stack: Stack, http: httpx.AsyncClient
) -> None:
    owner = await books(http)
    expected = await api_figures(owner)
    monthly = [
        data(await owner.get("/api/reports/profit-and-loss", params={"from": a, "to": b}))
        for a, b in MONTHS
    ]
    other = await bk.fresh_company(owner, name="Second Books")
    await bk.bank(other, "Savings", opening_balance=321.45, opened_at="2024-12-01")

    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    await show(page, PERIOD)
    shown = await figures(page)
    assert shown == expected
    assert expected["pnl.total_income"] == 3700.5 and expected["receivables.total"] == 2700.5

    labels = ["Jan 25", "Feb 25", "Mar 25"]
    assert await bars(page, "#pnl-chart") == [
        bar
        for label, month in zip(labels, monthly, strict=True)
        for bar in (
            ("Income", label, month["total_income"]),
            ("Expenses", label, month["total_expenses"]),
        )
    ]
    aged = await bars(page, "#aged-chart")
    assert [(s, b, v) for s, b, v in aged if s == "Receivables"] == [
        ("Receivables", b, expected[f"receivables.totals.{b}"]) for b in BUCKETS
    ]

    # the company switcher: the other company's books, then back
    options = await page.eval_on_selector_all("#company option", "os => os.map(o => o.value)")
    assert set(options) == {owner.company_id, other.company_id}
    await switch(page, other.company_id)
    assert (await figures(page))["cash.opening_cash"] == 321.45
    await switch(page, owner.company_id)
    assert await figures(page) == expected


# --- 3. an analysis streamed to its end ---------------------------------------------------


async def analyse(page: Any) -> str:
    await page.select_option("#analyse [name=report]", "profit_and_loss")
    await page.click("#analyse-button")
    await page.wait_for_selector("#insight[data-finished]", timeout=60_000)
    return await page.get_attribute("#insight", "data-job-id")


async def shown_events(page: Any) -> list[tuple[str, str]]:
    return [
        (i, t)
        for i, t in await page.eval_on_selector_all(
            "#event-log li", "ls => ls.map(l => [l.dataset.id, l.dataset.type])"
        )
    ]


async def test_an_analysis_streams_to_its_end_on_the_page(
    tab: Tab, proxy: CuttingProxy, browser_stack: Stack, http: httpx.AsyncClient
) -> None:
    owner = await books(http)
    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    await show(page, PERIOD)
    job_id = await analyse(page)

    job = data(await owner.get(f"/api/jobs/{job_id}"))
    assert job["status"] == "succeeded"
    result = job["result"]
    assert await page.text_content("#insight-status") == "done"
    assert (await page.text_content("#insight-narrative")).strip() == result["summary"]
    assert await page.get_attribute("#insight-narrative", "data-replaced") is None
    assert await page.text_content("#insight-provider") == "offline provider · no language model"
    assert await page.text_content("#insight-validation") == "validation passed"
    steps = await page.eval_on_selector_all("#insight-steps li", "ls => ls.map(l => l.textContent)")
    assert steps[0] == "started" and steps[-1] == "persist"
    assert {"compute_facts", "narrate", "validate", "validated"} <= set(steps)
    facts = await page.eval_on_selector_all("#insight-facts li", "ls => ls.map(l => l.dataset.key)")
    assert facts == [f["key"] for f in result["facts"]]
    assert await shown_events(page) == await stream_rows(browser_stack.valkey.url, job_id)

    # the job is listed with its status and a full progress bar
    await page.click("#jobs-refresh")
    row = f"#jobs-table tr[data-job='{job_id}']"
    await page.wait_for_selector(f"{row} td[data-status=succeeded]")
    assert await page.eval_on_selector(f"{row} progress", "p => p.value") == 1


# --- 4. a stream cut mid-way and resumed ---------------------------------------------------------


async def test_a_stream_cut_mid_event_resumes_with_nothing_lost_or_doubled(
    tab: Tab, proxy: CuttingProxy, browser_stack: Stack, http: httpx.AsyncClient
) -> None:
    owner = await books(http)
    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    await show(page, PERIOD)
    cuts = proxy.cuts
    proxy.arm(tokens=5)  # the connection drops inside the fifth token event
    job_id = await analyse(page)
    assert proxy.cuts == cuts + 1, "the stream was not cut"
    # the dropped connection is a failed load in the console: the one error expected here
    tab.expected.append("ERR_")

    result = data(await owner.get(f"/api/jobs/{job_id}"))["result"]
    rows = await stream_rows(browser_stack.valkey.url, job_id)
    shown = await shown_events(page)
    assert len({i for i, _ in shown}) == len(shown), "an event was shown twice"
    assert shown == rows, "the page's events are not exactly the job's stream"
    steps = await page.eval_on_selector_all("#insight-steps li", "ls => ls.map(l => l.textContent)")
    # it resumed after the last whole event it had, the fourth token
    fourth = [i for i, t in rows if t == "token"][3]
    assert f"resumed after {fourth}" in steps, steps
    # the narrative as streamed (never replaced by the result) is the validated summary
    assert await page.get_attribute("#insight-narrative", "data-replaced") is None
    assert (await page.text_content("#insight-narrative")).strip() == result["summary"]
    assert await page.text_content("#insight-status") == "done"


# --- 5. markup in a narrative is shown as text ------------------------------------------

SCRIPT = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">'


def script_narrative(body: dict[str, Any]) -> str:
    return f"{SCRIPT} {quote_facts(body)}"


async def no_markup_ran(page: Any) -> None:
    assert await page.eval_on_selector("#insight-narrative", "n => n.children.length") == 0
    assert await page.evaluate("() => document.querySelectorAll('script').length") == 1
    assert await page.evaluate("() => document.querySelectorAll('main img').length") == 0
    assert await page.evaluate("() => window.__pwned") is None


def sse(*events: tuple[str, str, dict[str, Any]]) -> str:
    return "".join(f"id: {i}\nevent: {t}\ndata: {json.dumps(d)}\n\n" for i, t, d in events)


async def test_markup_in_any_event_is_text_on_the_page(
    tab: Tab, proxy: CuttingProxy, http: httpx.AsyncClient
) -> None:
    """The page's own defence, whatever the server sends: the job's event stream replaced in
    the browser by one whose narrative, fact and result carry raw markup."""
    owner = await books(http)
    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    fact = {"key": "net_profit", "label": "<b>Net</b> profit", "value": 1, "text": "<i>1</i>"}
    result = {
        "summary": f"{SCRIPT} The end.",
        "provider": "<u>offline</u>",
        "model": "m",
        "offline": True,
        "validation": {"status": "passed", "issues": ["<img src=x onerror=alert(1)>"]},
    }
    body = sse(
        ("1-0", "progress", {"step": "started", "provider": "offline", "model": "m"}),
        ("2-0", "fact", fact),
        ("3-0", "token", {"text": SCRIPT[:30]}),
        ("3-1", "token", {"text": SCRIPT[30:] + " The end."}),
        ("4-0", "result", result),
    )
    await page.route(
        "**/api/jobs/*/events",
        lambda route: route.fulfill(status=200, body=body, content_type="text/event-stream"),
    )
    await show(page, PERIOD)
    await analyse(page)
    assert (await page.text_content("#insight-narrative")).strip() == f"{SCRIPT} The end."
    assert await page.text_content("#insight-facts li") == "<b>Net</b> profit <i>1</i>"
    assert await page.text_content("#insight-issues li") == "<img src=x onerror=alert(1)>"
    assert (
        await page.eval_on_selector("#insight-facts li", "n => n.querySelectorAll('b, i').length")
        == 0
    )
    await no_markup_ran(page)


async def test_a_models_narrative_carrying_script_is_shown_as_text(
    tab: Tab,
    proxy: CuttingProxy,
    browser_stack: Stack,
    fake_llm: FakeLLM,
    model_worker: subprocess.Popen[bytes],
    http: httpx.AsyncClient,
) -> None:
    """Through the real platform: the worker's model (the fake OpenAI-compatible server)
    writes `<script>` into its narrative; the server neutralises tag openers (U+2039,
    agents/validation.py) and the page shows the words as text, nothing run."""
    stop(browser_stack.workers[0])  # the offline worker gives way to the model's
    fake_llm.narrate = script_narrative
    # An endpoint without structured output: the model writes the prose itself (with
    # structured output it types no text the server does not check sentence by sentence).
    fake_llm.structured = False
    release(model_worker)
    owner = await books(http)
    page = tab.page
    await sign_in(page, proxy.url, owner.email)
    await show(page, PERIOD)
    job_id = await analyse(page)
    assert fake_llm.requests, "the worker did not ask the fake model"

    result = data(await owner.get(f"/api/jobs/{job_id}"))["result"]
    narrative = await page.text_content("#insight-narrative")
    assert narrative.strip() == result["summary"]
    assert "script>window.__pwned = true" in narrative and "onerror=" in narrative
    assert await page.get_attribute("#insight-narrative", "data-replaced") is None
    await no_markup_ran(page)
    assert result["offline"] is False
    assert await page.text_content("#insight-provider") == f"{result['provider']} · {MODEL}"
    assert await page.text_content("#insight-validation") == (
        f"validation {result['validation']['status']}"
    )
