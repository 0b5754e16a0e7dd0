"""What every new company starts with, so it can invoice at once: its base currency, the
standard chart of accounts, default income and expense categories, and a cash account; then
what each area declares it gives a new company (`CompanyStart`: a default pipeline, a
default warehouse), all in the company's creation transaction."""

from __future__ import annotations

from typing import Any

from domain.accounting.chart import create_standard_chart
from domain.banking.accounts import create_cash_account
from domain.categories import create_default_categories
from domain.context import Ctx
from domain.currencies import create_base_currency
from domain.resources.registry import registry


async def setup_company(ctx: Ctx, company: dict[str, Any]) -> None:
    currency = company.get("base_currency") or "USD"
    await create_base_currency(ctx, currency)
    await create_standard_chart(ctx)
    await create_default_categories(ctx)
    await create_cash_account(ctx, currency)
    for start in registry().starts:
        await start.run(ctx, company)
