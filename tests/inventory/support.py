"""Helpers of the inventory tests: a domain context on the test app, tracked items, and
balances by system account."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from domain.context import Ctx
from domain.errors import Conflict
from tests.accounting import books as bk
from tests.helpers import Account

Doc = dict[str, Any]
D = Decimal


def ctx_of(app: FastAPI, account: Account) -> Ctx:
    return Ctx(app.state.store, account.user_id, account.company_id, "owner")


async def tracked(account: Account, valuation: str = "average", **fields: Any) -> Doc:
    return await bk.item(account, track_inventory=True, valuation=valuation, **fields)


def source(kind: str = "test", id: str = "000000000000000000000001") -> dict[str, str]:
    return {"type": kind, "id": id}


async def race(count: int, act: Callable[[dict[str, str]], Awaitable[Any]]) -> int:
    """Run `act` `count` times at once, each for its own sales-order source; how many
    succeeded (the others must be refused with 409 `insufficient_stock`)."""

    async def one(i: int) -> bool:
        try:
            await act({"type": "sales_order", "id": f"{i:024x}"})
        except Conflict as error:
            assert error.code == "insufficient_stock", error.message
            return False
        return True

    return sum(await asyncio.gather(*(one(i) for i in range(count))))
