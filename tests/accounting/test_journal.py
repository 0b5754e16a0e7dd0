"""The journal (manual entries, reversals, immutability) and the chart of accounts over HTTP.

What every declared resource does (ids, another company's 404, token, paging, bad list
queries, delete...) is the conformance suite's (tests/conformance)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from memory.ids import new_id
from tests.accounting import books as bk
from tests.helpers import Account, data, detail_fields, expect_error, register

Doc = dict[str, Any]
JOURNAL = "/api/accounting/journal"
CHART = "/api/accounting/chart-of-accounts"


@pytest.fixture(scope="module")
async def owner(client: httpx.AsyncClient) -> Account:
    return await register(client, name="Journal Keeper", company_name="Journal Keeper Ltd")


@pytest.fixture
async def books(owner: Account) -> Account:
    return await bk.fresh_company(owner, "Journal Co")


def entry_body(*lines: tuple[str, str | float, str | float], **fields: Any) -> Doc:
    return {
        "date": "2025-03-31",
        "description": "Accrual",
        "lines": [{"account_id": a, "debit": d, "credit": c} for a, d, c in lines],
        **fields,
    }


async def accrual(account: Account, amount: str | float = 250) -> tuple[Doc, dict[str, Doc]]:
    accounts = await bk.chart(account)
    body = entry_body(
        (accounts["expenses"]["id"], amount, 0),
        (accounts["payable"]["id"], 0, amount),
        reference="ACC-1",
    )
    return data(await account.post(JOURNAL, json=body), 201), accounts


# manual entries


async def test_a_manual_entry(books: Account) -> None:
    entry, accounts = await accrual(books, "250.75")
    assert (entry["number"], entry["date"], entry["description"], entry["reference"]) == (
        "JE-000001",
        "2025-03-31",
        "Accrual",
        "ACC-1",
    )
    assert (entry["manual"], entry["currency"], entry["total"], entry["source"]) == (
        True,
        "USD",
        250.75,
        None,
    )
    assert bk.entry_lines(entry, accounts) == {"expenses": (250.75, 0), "payable": (0, 250.75)}
    assert await bk.balances(books) == {"expenses": 250.75, "payable": -250.75}


async def test_entries_in_another_currency_are_in_the_base(owner: Account) -> None:
    yen = await bk.fresh_company(owner, "Yen Co", base="JPY")
    accounts = await bk.chart(yen)
    body = entry_body((accounts["cash"]["id"], 1500, 0), (accounts["equity"]["id"], 0, 1500))
    entry = data(await yen.post(JOURNAL, json=body), 201)
    assert (entry["currency"], entry["total"]) == ("JPY", 1500)
    body = entry_body((accounts["cash"]["id"], "0.4", 0), (accounts["equity"]["id"], 0, "0.4"))
    error = expect_error(await yen.post(JOURNAL, json=body), 400, "amount_too_small")
    assert detail_fields(error) == {"lines.0"}
    assert len(await bk.journal(yen)) == 1


async def test_listing_manual_entries(books: Account) -> None:
    await accrual(books)
    customer = await bk.contact(books)
    invoice = await bk.document(books, "invoice", customer["id"], [bk.line(10)], status="sent")
    manual = data(await books.get(JOURNAL, params={"manual": "true"}))
    assert [e["description"] for e in manual] == ["Accrual"]
    posted = data(await books.get(JOURNAL, params={"manual": "false"}))
    assert [e["source"]["id"] for e in posted] == [invoice["id"]]
    assert [e["reference"] for e in data(await books.get(JOURNAL, params={"search": "acc-1"}))] == [
        "ACC-1"
    ]


async def test_fewer_than_two_lines_is_400(books: Account) -> None:
    accounts = await bk.chart(books)
    for lines in ([], [(accounts["cash"]["id"], 10, 0)]):
        error = expect_error(
            await books.post(JOURNAL, json=entry_body(*lines)), 400, "validation_error"
        )
        assert detail_fields(error) == {"lines"}
    assert await bk.journal(books) == []


async def test_unbalanced_by_one_cent_is_409(books: Account) -> None:
    accounts = await bk.chart(books)
    body = entry_body(
        (accounts["cash"]["id"], "100.00", 0),
        (accounts["sales"]["id"], 0, "60.00"),
        (accounts["other_income"]["id"], 0, "39.99"),
    )
    error = expect_error(await books.post(JOURNAL, json=body), 409, "unbalanced_entry")
    assert error["details"] == [{"debits": 10000, "credits": 9999}]
    assert await bk.journal(books) == []
    assert (await bk.trial_balance(books))["accounts"] == []


@pytest.mark.parametrize(
    ("debit", "credit"),
    [(10, 10), (0, 0), (-10, 0), (0, -10), ("10.00001", 0)],
)
async def test_a_line_needs_exactly_one_positive_side(
    books: Account, debit: Any, credit: Any
) -> None:
    accounts = await bk.chart(books)
    body = entry_body((accounts["cash"]["id"], debit, credit), (accounts["sales"]["id"], 0, 10))
    error = expect_error(await books.post(JOURNAL, json=body), 400, "validation_error")
    assert {f.split(".")[0] for f in detail_fields(error)} == {"lines"}
    assert await bk.journal(books) == []


async def test_unknown_fields_are_400(books: Account) -> None:
    accounts = await bk.chart(books)
    body = entry_body((accounts["cash"]["id"], 1, 0), (accounts["sales"]["id"], 0, 1))
    for extra in ({"total": 1}, {"source": {"type": "invoice", "id": new_id()}}, {"manual": False}):
        expect_error(await books.post(JOURNAL, json={**body, **extra}), 400, "validation_error")


async def test_another_companys_account_is_invalid_reference(
    books: Account, mallory: Account
) -> None:
    theirs = await bk.chart(mallory)
    mine = await bk.chart(books)
    for foreign in (theirs["cash"]["id"], new_id()):
        body = entry_body((mine["cash"]["id"], 5, 0), (foreign, 0, 5))
        error = expect_error(await books.post(JOURNAL, json=body), 400, "invalid_reference")
        assert detail_fields(error) == {"lines.1.account_id"}
    assert await bk.journal(books) == []


async def test_a_disabled_account_takes_no_postings(books: Account) -> None:
    made = data(
        await books.post(CHART, json={"code": "6500", "name": "Old costs", "type": "expense"}), 201
    )
    data(await books.put(f"{CHART}/{made['id']}", json={"enabled": False}))
    accounts = await bk.chart(books)
    body = entry_body((made["id"], 5, 0), (accounts["cash"]["id"], 0, 5))
    expect_error(await books.post(JOURNAL, json=body), 400, "account_disabled")


async def test_entries_are_immutable(books: Account) -> None:
    entry, _ = await accrual(books)
    url = f"{JOURNAL}/{entry['id']}"
    expect_error(await books.put(url, json={"description": "changed"}), 405, "method_not_allowed")
    expect_error(await books.delete(url), 405, "method_not_allowed")
    expect_error(await books.patch(url, json={"description": "changed"}), 405, "method_not_allowed")
    assert data(await books.get(url)) == entry


# reversals


async def test_reversing_posts_the_mirror_linked_both_ways(books: Account) -> None:
    entry, accounts = await accrual(books, 80)
    reversal = data(await books.post(f"{JOURNAL}/{entry['id']}/reverse"), 201)
    assert (reversal["number"], reversal["date"], reversal["reversal_of"]) == (
        "JE-000002",
        entry["date"],
        entry["id"],
    )
    assert reversal["description"] == f"Reversal of {entry['number']}"
    assert bk.entry_lines(reversal, accounts) == {"expenses": (0, 80), "payable": (80, 0)}
    original = data(await books.get(f"{JOURNAL}/{entry['id']}"))
    assert original["reversed_by"] == reversal["id"]
    assert data(await books.get(f"{JOURNAL}/{reversal['id']}")) == reversal
    assert await bk.balances(books) == {}

    expect_error(await books.post(f"{JOURNAL}/{entry['id']}/reverse"), 409, "already_reversed")
    expect_error(await books.post(f"{JOURNAL}/{reversal['id']}/reverse"), 409, "is_reversal")
    assert len(await bk.journal(books)) == 2


async def test_reversing_on_another_date(books: Account) -> None:
    entry, _ = await accrual(books, 30)
    body = {"date": "2025-04-01", "description": "Accrual reversed"}
    reversal = data(await books.post(f"{JOURNAL}/{entry['id']}/reverse", json=body), 201)
    assert (reversal["date"], reversal["description"]) == ("2025-04-01", "Accrual reversed")
    march = await bk.balances(books, as_of="2025-03-31")
    assert march == {"expenses": 30, "payable": -30}
    assert await bk.balances(books, as_of="2025-04-01") == {}
    url = f"{JOURNAL}/{new_id()}/reverse"
    expect_error(await books.post(url, json={"date": "tomorrow"}), 400, "validation_error")


# chart of accounts


async def test_a_new_company_has_the_standard_chart(books: Account) -> None:
    rows = data(await books.get(CHART, params={"limit": 200}))
    codes = [a["code"] for a in rows]
    assert codes == sorted(codes)
    by_system = {a["system"]: a for a in rows if a.get("system")}
    for key, code, type_ in (
        ("cash", "1000", "asset"),
        ("receivable", "1200", "asset"),
        ("payable", "2000", "liability"),
        ("tax_payable", "2100", "liability"),
        ("equity", "3000", "equity"),
        ("sales", "4000", "income"),
        ("fx", "4900", "income"),
        ("expenses", "6000", "expense"),
    ):
        assert (by_system[key]["code"], by_system[key]["type"]) == (code, type_)
    assets = data(await books.get(CHART, params={"type": "asset", "limit": 200}))
    assert {a["type"] for a in assets} == {"asset"}
    assert [a["code"] for a in data(await books.get(CHART, params={"search": "receivable"}))] == [
        "1200",
        "1300",
    ]


async def test_create_read_update_an_account(books: Account) -> None:
    body = {"code": "6400", "name": "Software", "type": "expense", "subtype": "operating_expense"}
    made = data(await books.post(CHART, json=body), 201)
    assert (made["code"], made["name"], made["type"], made["enabled"]) == (
        "6400",
        "Software",
        "expense",
        True,
    )
    assert made.get("system") is None
    url = f"{CHART}/{made['id']}"
    updated = data(await books.put(url, json={"name": "Software and SaaS", "code": "6410"}))
    assert (updated["name"], updated["code"], updated["type"]) == (
        "Software and SaaS",
        "6410",
        "expense",
    )


async def test_duplicate_code_is_409(books: Account) -> None:
    body = {"code": "1200", "name": "Another receivable", "type": "asset"}
    expect_error(await books.post(CHART, json=body), 409, "duplicate")
    made = data(
        await books.post(CHART, json={"code": "7000", "name": "Misc", "type": "expense"}), 201
    )
    expect_error(await books.put(f"{CHART}/{made['id']}", json={"code": "4000"}), 409, "duplicate")


async def test_the_same_code_in_another_company_is_fine(books: Account, mallory: Account) -> None:
    body = {"code": "8123", "name": "Mine", "type": "expense"}
    data(await books.post(CHART, json=body), 201)
    other = data(await mallory.post(CHART, json=body), 201)
    assert other["code"] == "8123"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "9000", "name": "X", "type": "revenue"},
        {"code": "90 00", "name": "X", "type": "income"},
        {"code": "9000", "name": "", "type": "income"},
        {"code": "9000", "name": "X"},
        {"code": "9000", "name": "X", "type": "income", "system": "sales"},
    ],
)
async def test_bad_accounts_are_400(alice: Account, body: Doc) -> None:
    expect_error(await alice.post(CHART, json=body), 400, "validation_error")


async def test_the_type_cannot_change(books: Account) -> None:
    accounts = await bk.chart(books)
    url = f"{CHART}/{accounts['sales']['id']}"
    error = expect_error(await books.put(url, json={"type": "expense"}), 400, "read_only_field")
    assert detail_fields(error) == {"type"}
    assert data(await books.put(url, json={"type": "income", "name": "Sales"}))["name"] == "Sales"
    assert data(await books.get(url))["type"] == "income"


async def test_accounts_in_use_and_system_accounts_cannot_be_deleted(books: Account) -> None:
    accounts = await bk.chart(books)
    used = data(
        await books.post(CHART, json={"code": "6901", "name": "Used", "type": "expense"}), 201
    )
    body = entry_body((used["id"], 5, 0), (accounts["cash"]["id"], 0, 5))
    data(await books.post(JOURNAL, json=body), 201)

    expect_error(await books.delete(f"{CHART}/{used['id']}"), 409, "account_in_use")
    for key in ("receivable", "sales", "cash"):
        expect_error(await books.delete(f"{CHART}/{accounts[key]['id']}"), 409, "system_account")


async def test_ledger_accounts_linked_to_a_bank_or_category_stay(books: Account) -> None:
    bank = await bk.bank(books, "Savings")
    expect_error(await books.delete(f"{CHART}/{bank['ledger_account_id']}"), 409, "account_in_use")
    income = data(
        await books.post(CHART, json={"code": "4200", "name": "Consulting", "type": "income"}), 201
    )
    category = data(
        await books.post(
            "/api/categories",
            json={"name": "Consulting", "type": "income", "ledger_account_id": income["id"]},
        ),
        201,
    )
    expect_error(await books.delete(f"{CHART}/{income['id']}"), 409, "account_in_use")
    # so a document in that category still posts
    customer = await bk.contact(books)
    doc = await bk.document(
        books, "invoice", customer["id"], [bk.line(10)], category_id=category["id"], status="sent"
    )
    (entry,) = await bk.entries_for(books, doc["id"])
    assert bk.entry_lines(entry, await bk.chart(books))["4200"] == (0, 10)


# entries the platform posted follow their object


async def test_an_entry_posted_for_a_document_cannot_be_reversed_by_hand(books: Account) -> None:
    customer = await bk.contact(books)
    invoice = await bk.document(books, "invoice", customer["id"], [bk.line(100)], status="sent")
    [entry] = bk.live(await bk.entries_for(books, invoice["id"]))
    response = await books.post(f"{JOURNAL}/{entry['id']}/reverse")
    expect_error(response, 409, "posted_by_source")
    assert bk.live(await bk.entries_for(books, invoice["id"])) == [entry]


async def test_system_accounts_cannot_be_disabled(books: Account) -> None:
    receivable = (await bk.chart(books))["receivable"]
    response = await books.put(f"{CHART}/{receivable['id']}", json={"enabled": False})
    expect_error(response, 409, "system_account")
    assert data(await books.get(f"{CHART}/{receivable['id']}"))["enabled"] is True
