"""Categories: list, create and update (the spec), get and delete (beyond it).

Income and expense categories post to a ledger account of their own type (default: Sales,
General expenses); the platform's own categories (Sales, General expenses, Transfer, ...)
cannot be deleted, nor can a category with transactions; a category's type is fixed. What
every declared resource does (ids, another company's 404, token, paging, sorts, empty
update, delete...) is the conformance suite's (tests/conformance).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from memory.ids import new_id
from tests.helpers import Account, data, detail_fields, expect_error


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    body = {"name": "Consulting", "type": "income", **fields}
    return data(await account.post("/api/categories", json=body), 201)


async def ledger(account: Account, system: str) -> dict[str, Any]:
    [found] = data(
        await account.get("/api/accounting/chart-of-accounts", params={"system": system})
    )
    return found


async def category(account: Account, system: str) -> dict[str, Any]:
    listed = data(await account.get("/api/categories", params={"limit": 200}))
    [found] = [c for c in listed if c.get("system") == system]
    return found


# registration defaults


async def test_a_new_company_has_the_default_categories(books: Account) -> None:
    listed = data(await books.get("/api/categories"))
    sales, other, general = [
        (await ledger(books, key))["id"] for key in ("sales", "other_income", "expenses")
    ]
    assert [
        (c["name"], c["type"], c["system"], c.get("ledger_account_id"), c["enabled"])
        for c in listed
    ] == [
        ("General expenses", "expense", "general_expenses", general, True),
        ("Other income", "income", "other_income", other, True),
        ("Sales", "income", "sales", sales, True),
        ("Transfer", "other", "transfer", None, True),
    ]


# create


async def test_an_income_category_posts_to_sales_by_default(books: Account) -> None:
    created = await create(books, name="  Consulting  ", color="#aabbcc")
    assert created["name"] == "Consulting"
    assert created["type"] == "income"
    assert created["color"] == "#aabbcc"
    assert created["ledger_account_id"] == (await ledger(books, "sales"))["id"]
    assert created["enabled"] is True
    assert created.get("system") is None


async def test_an_expense_category_posts_to_general_expenses_by_default(alice: Account) -> None:
    created = await create(alice, name="Rent", type="expense")
    assert created["ledger_account_id"] == (await ledger(alice, "expenses"))["id"]


@pytest.mark.parametrize("type_", ["item", "other"])
async def test_item_and_other_categories_post_nowhere(alice: Account, type_: str) -> None:
    created = await create(alice, name=f"An {type_} category", type=type_)
    assert created["type"] == type_
    assert created.get("ledger_account_id") is None


async def test_a_ledger_account_of_the_right_type_is_kept(alice: Account) -> None:
    wages = (await ledger(alice, "wages"))["id"]
    created = await create(alice, name="Contractors", type="expense", ledger_account_id=wages)
    assert created["ledger_account_id"] == wages


@pytest.mark.parametrize(
    ("type_", "system"),
    [("income", "expenses"), ("income", "cash"), ("expense", "sales"), ("expense", "payable")],
)
async def test_a_ledger_account_of_the_wrong_type_is_refused(
    alice: Account, type_: str, system: str
) -> None:
    account = (await ledger(alice, system))["id"]
    response = await alice.post(
        "/api/categories", json={"name": "Wrong", "type": type_, "ledger_account_id": account}
    )
    expect_error(response, 400, "invalid_reference")


async def test_item_and_other_categories_take_no_ledger_account(alice: Account) -> None:
    sales = (await ledger(alice, "sales"))["id"]
    response = await alice.post(
        "/api/categories", json={"name": "Goods", "type": "item", "ledger_account_id": sales}
    )
    expect_error(response, 400, "validation_error")


async def test_an_unknown_or_foreign_ledger_account_is_an_invalid_reference(
    alice: Account, theirs: dict[str, str]
) -> None:
    for account in (new_id(), theirs["ledger_account"]):
        response = await alice.post(
            "/api/categories", json={"name": "X", "type": "income", "ledger_account_id": account}
        )
        error = expect_error(response, 400, "invalid_reference")
        assert detail_fields(error) == {"ledger_account_id"}


async def test_a_disabled_ledger_account_is_refused(books: Account) -> None:
    account = data(
        await books.post(
            "/api/accounting/chart-of-accounts",
            json={"code": "4500", "name": "Royalties", "type": "income"},
        ),
        201,
    )
    assert (await create(books, ledger_account_id=account["id"]))["ledger_account_id"] == account[
        "id"
    ]
    data(
        await books.put(
            f"/api/accounting/chart-of-accounts/{account['id']}", json={"enabled": False}
        )
    )
    response = await books.post(
        "/api/categories",
        json={"name": "More royalties", "type": "income", "ledger_account_id": account["id"]},
    )
    expect_error(response, 400, "account_disabled")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "income"}, "name"),
        ({"name": "", "type": "income"}, "name"),
        ({"name": ["Rent"], "type": "income"}, "name"),
        ({"name": "Rent"}, "type"),
        ({"name": "Rent", "type": "asset"}, "type"),
        ({"name": "Rent", "type": "expense", "color": "red"}, "color"),
        ({"name": "Rent", "type": "expense", "color": "#12345"}, "color"),
        ({"name": "Rent", "type": "expense", "ledger_account_id": "6000"}, "ledger_account_id"),
        ({"name": "Rent", "type": "expense", "enabled": "nope"}, "enabled"),
        ({"name": "Rent", "type": "expense", "system": "transfer"}, "system"),
    ],
)
async def test_create_rejects_bad_input(books: Account, body: dict, field: str) -> None:
    error = expect_error(await books.post("/api/categories", json=body), 400, "validation_error")
    assert detail_fields(error) == {field}
    assert len(data(await books.get("/api/categories"))) == 4


# list


async def test_list_filters_and_searches(books: Account) -> None:
    await create(books, name="Rent", type="expense")
    await create(books, name="Subscriptions", type="income", enabled=False)
    incomes = data(await books.get("/api/categories", params={"type": "income"}))
    assert [c["name"] for c in incomes] == ["Other income", "Sales", "Subscriptions"]
    enabled_incomes = data(
        await books.get("/api/categories", params={"type": "income", "enabled": "true"})
    )
    assert [c["name"] for c in enabled_incomes] == ["Other income", "Sales"]
    assert [
        c["name"] for c in data(await books.get("/api/categories", params={"search": "ren"}))
    ] == ["Rent"]
    expect_error(
        await books.get("/api/categories", params={"type": "asset"}), 400, "validation_error"
    )


# update


async def test_update_renames_recolours_and_moves_the_ledger_account(alice: Account) -> None:
    created = await create(alice, name="Training")
    other_income = (await ledger(alice, "other_income"))["id"]
    updated = data(
        await alice.put(
            f"/api/categories/{created['id']}",
            json={"name": "Workshops", "color": "#000000", "ledger_account_id": other_income},
        )
    )
    assert (updated["name"], updated["color"], updated["ledger_account_id"], updated["type"]) == (
        "Workshops",
        "#000000",
        other_income,
        "income",
    )
    disabled = data(await alice.put(f"/api/categories/{created['id']}", json={"enabled": False}))
    assert disabled["enabled"] is False


async def test_update_refuses_a_ledger_account_of_the_wrong_type(
    alice: Account, theirs: dict[str, str]
) -> None:
    created = await create(alice, name="Licensing")
    for account in ((await ledger(alice, "expenses"))["id"], theirs["ledger_account"], new_id()):
        response = await alice.put(
            f"/api/categories/{created['id']}", json={"ledger_account_id": account}
        )
        expect_error(response, 400, "invalid_reference")
    kept = data(await alice.get(f"/api/categories/{created['id']}"))
    assert kept["ledger_account_id"] == (await ledger(alice, "sales"))["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "expense"}, "type"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"color": "blue"}, "color"),
        ({"enabled": None}, "enabled"),
    ],
)
async def test_update_rejects_bad_input(alice: Account, body: dict, field: str) -> None:
    created = await create(alice, name="Stable")
    response = await alice.put(f"/api/categories/{created['id']}", json=body)
    error = expect_error(
        response, 400, "read_only_field" if field == "type" else "validation_error"
    )
    assert detail_fields(error) == {field}
    assert data(await alice.get(f"/api/categories/{created['id']}")) == created


async def test_a_null_ledger_account_goes_back_to_the_default(alice: Account) -> None:
    other = data(
        await alice.post(
            "/api/accounting/chart-of-accounts",
            json={"code": f"4{uuid.uuid4().int % 1000:03d}9", "name": "Fees", "type": "income"},
        ),
        201,
    )
    created = await create(alice, name="Relinked", ledger_account_id=other["id"])
    url = f"/api/categories/{created['id']}"
    reset = data(await alice.put(url, json={"ledger_account_id": None}))
    assert reset["ledger_account_id"] == (await ledger(alice, "sales"))["id"]


# delete


@pytest.mark.parametrize("system", ["transfer", "sales", "general_expenses"])
async def test_the_platforms_categories_cannot_be_deleted(books: Account, system: str) -> None:
    found = await category(books, system)
    expect_error(await books.delete(f"/api/categories/{found['id']}"), 409, "system_category")
    assert data(await books.get(f"/api/categories/{found['id']}")) == found


async def test_a_category_with_transactions_cannot_be_deleted(books: Account) -> None:
    created = await create(books, name="Repairs", type="expense")
    [cash] = data(await books.get("/api/accounts"))
    data(
        await books.post(
            "/api/transactions",
            json={
                "type": "expense",
                "account_id": cash["id"],
                "paid_at": "2026-02-01",
                "amount": 12.5,
                "category_id": created["id"],
            },
        ),
        201,
    )
    expect_error(await books.delete(f"/api/categories/{created['id']}"), 409, "category_in_use")
    disabled = data(await books.put(f"/api/categories/{created['id']}", json={"enabled": False}))
    assert disabled["enabled"] is False
