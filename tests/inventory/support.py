"""Helpers of the inventory tests: a domain context on the test app, tracked items, and
balances by system account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from domain.context import Ctx
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
