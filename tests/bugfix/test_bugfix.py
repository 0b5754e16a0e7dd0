"""The bug-fix conductor over a domain's bugs, run as a worker runs it (in this process):
a payment row changed behind the domain's back is found, proposed, confirmed by the owner,
repaired and re-validated, with exact outcomes; a run changes no data; a retried run resumes
after its last finished step; the endpoints' own rules.

The books of each test (one fresh USD company):

    INV 1,000.00 to Acme, sent; a payment of 400.00 from the bank
    then, behind the domain's back, the payment's row says 300.00

Bugs in `invoices`: two reports of one failure (titles that differ only by a number), one
unrelated (a PDF test), and one in `payroll` that the run must not touch.
"""

from __future__ import annotations

from typing import Any

import pytest
from arq import Retry
from fastapi import FastAPI

from conductors import bugfix as conductor
from domain.bugfix import runs
from domain.jobkit import TransientError
from settings import Settings
from tests.accounting import books as bk
from tests.helpers import Account, data, expect_error
from tests.seed.support import company, events_of, new_job, offline, run, services_of

Doc = dict[str, Any]
FRAME = 'File "domain/banking/transactions.py", line 246, in _settle'


@pytest.fixture(scope="module")
def quiet(settings: Settings) -> Settings:
    return offline(settings)


async def bug(account: Account, **fields: Any) -> Doc:
    return data(await account.post("/api/tai/bugs", json=fields), 201)


async def planted(owner: Account) -> tuple[Account, Doc]:
    """The books above, the bugs above, and the ids the tests look at."""
    co = await company(owner)
    acme = await bk.contact(co, name="Acme")
    bank = await bk.bank(co, "Checking", opening_balance=5000)
    invoice = await bk.document(co, "invoice", acme["id"], [bk.line(1000)], status="sent")
    payment = await bk.pay(co, invoice["id"], bank["id"], 400)
    store = services_of_account(co)
    await store.update_one(
        "transactions",
        {"_id": payment["id"]},
        {"$set": {"amount": 30000, "amount_base": 30000, "applied": 30000}},
    )
    first = await bug(
        co,
        title="Paid amount of invoice 1041 is wrong",
        description=f"After a partial payment the balance is off.\n{FRAME}\nPOST /api/transactions",
        domain="invoices",
        severity="high",
    )
    second = await bug(
        co, title="Paid amount of invoice 1187 is wrong", domain="invoices", severity="medium"
    )
    pdf = await bug(co, title="Invoice PDF shows the logo twice", domain="invoices", severity="low")
    other = await bug(co, title="Payslip rounding", domain="payroll", severity="critical")
    return co, {
        "invoice": invoice,
        "payment": payment,
        "bugs": [first, second, pdf],
        "other": other,
    }


_APP: list[FastAPI] = []


@pytest.fixture(autouse=True)
def _remember(app: FastAPI) -> None:
    _APP[:] = [app]


def services_of_account(account: Account) -> Any:
    return services_of(_APP[0]).store


async def bugfix(app: FastAPI, settings: Settings, account: Account, domain: str) -> Doc:
    job = await new_job(app, account, runs.KIND, {"domain": domain}, role="member")
    outcome, stored = await run(app, settings, job)
    assert outcome == "succeeded", stored
    return stored


async def test_a_planted_payment_defect_is_found_proposed_confirmed_and_repaired(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co, made = await planted(owner)
    store = services_of(app).store
    first, second, pdf = made["bugs"]
    stored = await bugfix(app, quiet, co, "invoices")
    result = stored["result"]

    assert result["counts"] == {
        "bugs": 3,
        "groups": 2,
        "triaged": 3,
        "proposed": 2,
        "validated": 1,
        "unverifiable": 1,
        "repairs": 1,
        "invariants": 3,
        "violated": 1,
        "violations": 1,
    }
    # Grouped: the two reports of one failure, and the PDF bug alone.
    assert [g["bug_ids"] for g in result["groups"]] == [[first["id"], second["id"]], [pdf["id"]]]
    assert result["groups"][0]["why"] == "title:paid amount of invoice <int> is wrong"
    assert result["groups"][0]["frames"] == ["domain/banking/transactions.py:246"]
    assert result["groups"][0]["endpoints"] == ["POST /api/transactions"]
    # Localised to the payment row that disagrees with its own journal entry.
    repair_proposal, code_proposal = result["proposals"]
    assert repair_proposal["kind"] == "data_repair"
    assert repair_proposal["reproduction"] == {
        "kind": "invariant",
        "invariant": "paid_matches_payments",
        "collection": "documents",
        "id": made["invoice"]["id"],
        "label": f"invoice {made['invoice']['number']}",
    }
    assert repair_proposal["repair"] == {
        "collection": "transactions",
        "id": made["payment"]["id"],
        "label": f"payment {made['payment']['id']} of invoice {made['invoice']['number']}",
        "before": {"amount": 30000, "amount_base": 30000, "applied": 30000, "cleared_base": 40000},
        "after": {"amount": 40000, "amount_base": 40000, "applied": 40000, "cleared_base": 40000},
        "source": "its journal entry",
        "invariant": "paid_matches_payments",
    }
    assert repair_proposal["validation"]["outcome"] == "reproduced"
    assert code_proposal["kind"] == "code_fix" and code_proposal["repair"] is None
    # The PDF bug shares no word with a data check: its evidence is the domain's only.
    assert code_proposal["validation"]["outcome"] in ("reproduced", "unverifiable")
    # The diagnosis states computed figures only, and says who wrote it.
    assert result["offline"] is True and result["validation"] == {"status": "passed", "issues": []}
    assert "expected 400.00 USD but found 300.00 USD" in result["narrative"]
    assert "3 open bugs in invoices, in 2 groups" in result["narrative"]

    # The run changed no data: the payment row still says 300.00.
    tx = await store.find_one("transactions", {"_id": made["payment"]["id"]})
    assert tx["applied"] == 30000
    # Bugs triaged with their proposal; the payroll bug untouched; Tai's log has the run.
    for b in (first, second):
        now = data(await co.get(f"/api/tai/bugs/{b['id']}"))
        assert now["status"] == "triaged"
        assert now["status_note"].startswith(
            f"Bug-fix run {stored['_id']}: proposal {repair_proposal['id']}"
        )
    assert data(await co.get(f"/api/tai/bugs/{made['other']['id']}"))["status"] == "open"
    logged = await store.find("tai_log", {"company_id": co.company_id, "type": "conductor.bugfix"})
    assert len(logged) == 1 and logged[0]["data"]["run_id"] == stored["_id"]

    # Every step streamed, in order.
    events = await events_of(app, stored["_id"])
    steps = [d["step"] for t, d in events if t == "progress" and "progress" in d]
    assert steps == list(runs.STEPS)
    assert [d["id"] for t, d in events if t == "proposal"] == [p["id"] for p in result["proposals"]]
    tokens = "".join(d["text"] for t, d in events if t == "token")
    assert tokens.strip() == result["narrative"]

    # Confirming: an owner or admin only, atomically, audited, re-validated, once.
    url = f"/api/tai/bugfix/runs/{stored['_id']}/repairs/{repair_proposal['id']}/confirm"
    member = co  # the owner acts as a member through a narrowed context below
    repaired = data(await member.post(url, json={"note": "Checked against the bank statement"}))
    assert repaired["before"]["applied"] == 30000 and repaired["after"]["applied"] == 40000
    assert repaired["restored"] is True and repaired["created_by"] == co.user_id
    tx = await store.find_one("transactions", {"_id": made["payment"]["id"]})
    assert (tx["amount"], tx["amount_base"], tx["applied"]) == (40000, 40000, 40000)
    assert (await bk.trial_balance(co))["balanced"] is True
    for b in (first, second):
        assert data(await co.get(f"/api/tai/bugs/{b['id']}"))["status"] == "fixed"
    expect_error(await co.post(url), 409, "repair_applied")
    code_url = f"/api/tai/bugfix/runs/{stored['_id']}/repairs/{code_proposal['id']}/confirm"
    expect_error(await co.post(code_url), 409, "no_repair")
    expect_error(await co.post(url.replace(repair_proposal["id"], "0" * 24)), 404, "not_found")

    # A second run finds the invariant holding.
    again = (await bugfix(app, quiet, co, "invoices"))["result"]
    assert again["counts"]["violations"] == 0 and again["counts"]["bugs"] == 1

    stats = data(await co.get("/api/tai/bugfix/stats"))
    assert stats["total"] | {"median_time_to_triage_s": None, "last_run_at": None} == {
        "runs": 2,
        "bugs_triaged": 4,
        "proposals": 3,
        "proposals_validated": 1,
        "repairs_planned": 1,
        "repairs_applied": 1,
        "invariants_checked": 6,
        "invariants_violated": 1,
        "invariants_restored": 1,
        "median_time_to_triage_s": None,
        "last_run_at": None,
    }
    assert stats["total"]["median_time_to_triage_s"] >= 0
    assert [d["domain"] for d in stats["domains"]] == ["invoices"]
    assert (
        data(await co.get("/api/tai/bugfix/stats", params={"domain": "payroll"}))["total"]["runs"]
        == 0
    )
    listed = data(await co.get("/api/tai/bugfix/runs", params={"domain": "invoices"}))
    assert [r["id"] for r in listed][-1] == stored["_id"]


async def test_a_repair_is_refused_when_the_row_changed_since_the_run(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co, made = await planted(owner)
    stored = await bugfix(app, quiet, co, "invoices")
    proposal = stored["result"]["proposals"][0]
    store = services_of(app).store
    await store.update_one(
        "transactions", {"_id": made["payment"]["id"]}, {"$set": {"applied": 35000}}
    )
    url = f"/api/tai/bugfix/runs/{stored['_id']}/repairs/{proposal['id']}/confirm"
    expect_error(await co.post(url), 409, "repair_stale")
    tx = await store.find_one("transactions", {"_id": made["payment"]["id"]})
    assert tx["applied"] == 35000 and tx["amount"] == 30000  # nothing applied


async def test_a_document_that_disagrees_with_its_payments_is_repaired_from_them(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co = await company(owner)
    acme = await bk.contact(co, name="Acme")
    bank = await bk.bank(co, "Checking")
    invoice = await bk.document(co, "invoice", acme["id"], [bk.line(250)], status="sent")
    await bk.pay(co, invoice["id"], bank["id"], 250)
    store = services_of(app).store
    await store.update_one(
        "documents",
        {"_id": invoice["id"]},
        {"$set": {"paid": 20000, "due": 5000, "status": "partial"}},
    )
    await bug(co, title="Paid invoice shows as partial", domain="invoicing")
    stored = await bugfix(app, quiet, co, "invoicing")
    [proposal] = stored["result"]["proposals"]
    assert proposal["repair"]["collection"] == "documents"
    assert proposal["repair"]["before"] == {"paid": 20000, "due": 5000, "status": "partial"}
    assert proposal["repair"]["after"] == {"paid": 25000, "due": 0, "status": "paid"}
    url = f"/api/tai/bugfix/runs/{stored['_id']}/repairs/{proposal['id']}/confirm"
    data(await co.post(url))
    doc = await bk.get_document(co, invoice["id"])
    assert (doc["paid"], doc["due"], doc["status"]) == (250, 0, "paid")


async def test_only_an_owner_or_admin_confirms(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    co, _ = await planted(owner)
    elsewhere = await company(owner)
    theirs = await bug(elsewhere, title="Paid amount of invoice 7 is wrong", domain="invoices")
    stored = await bugfix(app, quiet, co, "invoices")
    proposal = stored["result"]["proposals"][0]
    # Another company's bugs are not collected, and its run ids are not found from there.
    assert theirs["id"] not in [b for g in stored["result"]["groups"] for b in g["bug_ids"]]
    assert data(await elsewhere.get(f"/api/tai/bugs/{theirs['id']}"))["status"] == "open"
    url = f"/api/tai/bugfix/runs/{stored['_id']}/repairs/{proposal['id']}/confirm"
    expect_error(await elsewhere.post(url), 404, "not_found")
    from domain.context import Ctx

    ctx = Ctx(services_of(app).store, co.user_id, co.company_id, "member")
    from domain.errors import Forbidden

    with pytest.raises(Forbidden):
        await runs.confirm_repair(ctx, stored["_id"], proposal["id"])


async def test_a_retried_run_resumes_after_its_last_finished_step(
    app: FastAPI, quiet: Settings, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    co, _ = await planted(owner)
    left = {"failures": 1}
    real = conductor.Desk.propose

    def flaky(self: conductor.Desk, run_id: str, localised: list[Doc]) -> list[Doc]:
        if left["failures"]:
            left["failures"] -= 1
            raise TransientError("the worker lost its connection")
        return real(self, run_id, localised)

    monkeypatch.setattr(conductor.Desk, "propose", flaky)
    job = await new_job(app, co, runs.KIND, {"domain": "invoices"}, role="member")
    with pytest.raises(Retry):
        await run(app, quiet, job)
    outcome, stored = await run(app, quiet, job)
    assert outcome == "succeeded", stored
    events = await events_of(app, job["_id"])
    steps = [d["step"] for t, d in events if t == "progress" and "progress" in d]
    for step in ("collect", "group", "localise", "diagnose"):
        assert steps.count(step) == 1, steps
    assert steps.count("propose") == 2
    assert {"step": "resumed", "at": "propose"} in [d for t, d in events if t == "progress"]
    assert stored["result"]["counts"]["proposed"] == 2
    store = services_of(app).store
    assert await store.count(runs.RUNS, {"_id": job["_id"]}) == 1


async def test_a_stock_level_changed_behind_the_ledger_is_found(
    app: FastAPI, quiet: Settings, owner: Account
) -> None:
    from conductors import seed  # noqa: F401  (registers the seed jobs' handlers)
    from domain.seed.operations import APPLY

    co = await company(owner)
    seeded = await new_job(
        app, co, APPLY, {"profile": "wholesale", "size": "small", "seed": 2, "as_of": "2026-11-30"}
    )
    outcome, job = await run(app, quiet, seeded)
    assert outcome == "succeeded", job.get("error")
    store = services_of(app).store
    level = await store.find_one("stock_levels", {"company_id": co.company_id})
    await store.update_one("stock_levels", {"_id": level["_id"]}, {"$inc": {"on_hand": 7}})
    await bug(co, title="Stock on hand is off after a count", domain="inventory")
    result = (await bugfix(app, quiet, co, "inventory"))["result"]
    [check] = [i for i in result["invariants"] if i["key"] == "on_hand_matches_ledger"]
    [found] = check["violations"]
    assert (found["id"], found["expected"], found["found"]) == (
        level["_id"],
        level["on_hand"],
        level["on_hand"] + 7,
    )
    [proposal] = result["proposals"]
    assert proposal["reproduction"]["invariant"] == "on_hand_matches_ledger"
    assert proposal["kind"] == "code_fix" and proposal["repair"] is None
    assert proposal["validation"]["outcome"] == "reproduced"
    assert result["counts"]["validated"] == 1 and result["counts"]["repairs"] == 0


async def test_starting_a_run_checks_the_domain(owner: Account) -> None:
    co = await company(owner)
    expect_error(await co.post("/api/tai/bugfix/astrology"), 400, "unknown_domain")
    expect_error(await co.post("/api/tai/bugfix/9lives"), 400, "validation_error")
    expect_error(await co.post("/api/tai/bugfix/invoicing", json={"x": 1}), 400, "validation_error")
    queued = await co.post("/api/tai/bugfix/invoicing", params={"wait": "false"})
    assert queued.status_code == 202, queued.text
    assert queued.json()["data"]["events_url"].endswith("/events")
    # A domain no module names, but one of the company's bugs does, is a domain too.
    await bug(co, title="Exports time out", domain="exports")
    assert (await co.post("/api/tai/bugfix/exports", params={"wait": "false"})).status_code == 202
    data(await co.patch("/api/modules/licenses", json={"disable": ["tai"]}))
    expect_error(await co.post("/api/tai/bugfix/invoicing"), 403, "module_disabled")
    expect_error(await co.get("/api/tai/bugfix/stats"), 403, "module_disabled")
