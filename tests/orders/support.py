"""Helpers of the orders tests: orders, their actions, and the stock they need."""

from __future__ import annotations

from typing import Any

from tests.accounting import books as bk
from tests.helpers import Account, data

Doc = dict[str, Any]
SALES = "/api/sales/orders"
PURCHASES = "/api/purchases/orders"


async def tracked_item(account: Account, **fields: Any) -> Doc:
    return await bk.item(account, track_inventory=True, **fields)


async def order(
    account: Account, url: str, contact_id: str, lines: list[Doc], **fields: Any
) -> Doc:
    body = {"contact_id": contact_id, "issued_at": "2026-11-02", "lines": lines, **fields}
    return data(await account.post(url, json=body), 201)


async def act(account: Account, url: str, id: str, verb: str, body: Doc | None = None) -> Any:
    status = 201 if verb in ("invoice", "bill") else 200
    return data(await account.post(f"{url}/{id}/{verb}", json=body or {}), status)


async def get(account: Account, url: str, id: str) -> Doc:
    return data(await account.get(f"{url}/{id}"))


async def confirmed_sale(account: Account, lines: list[Doc], **fields: Any) -> Doc:
    customer = await bk.contact(account, "customer")
    made = await order(account, SALES, customer["id"], lines, **fields)
    return await act(account, SALES, made["id"], "confirm")


async def confirmed_purchase(account: Account, lines: list[Doc], **fields: Any) -> Doc:
    supplier = await bk.contact(account, "supplier")
    made = await order(account, PURCHASES, supplier["id"], lines, **fields)
    return await act(account, PURCHASES, made["id"], "confirm")


async def stock_up(account: Account, item_id: str, quantity: float, price: float) -> Doc:
    """`quantity` units of the item received at `price` through a purchase order."""
    made = await confirmed_purchase(
        account, [{"item_id": item_id, "quantity": quantity, "price": price}]
    )
    return await act(account, PURCHASES, made["id"], "receive", {"date": "2026-11-01"})


def progress(order: Doc, *keys: str) -> list[tuple[float, ...]]:
    return [tuple(line[k] for k in keys) for line in order["lines"]]
