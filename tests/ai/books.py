"""Reports for the grounding corpus, in the shapes the accounting domain answers.

Four report types over one small company (USD, two decimals): profit and loss for January
2025 against December 2024 (and a loss-making February alone), the balance sheet at
2025-01-31 against 2024-12-31, cash flow for January against December, and aged
receivables at 2025-03-31 against 2025-01-31 with a customer called "Studio 54".
"""

from __future__ import annotations

from typing import Any

from agents import facts as F
from agents.grounding import Scope, scope_of

PLACES = 2

REQUESTS: dict[str, dict[str, Any]] = {
    "pnl": {
        "report": "profit_and_loss",
        "from": "2025-01-01",
        "to": "2025-01-31",
        "compare_from": "2024-12-01",
        "compare_to": "2024-12-31",
    },
    "loss": {"report": "profit_and_loss", "from": "2025-02-01", "to": "2025-02-28"},
    "balance": {"report": "balance_sheet", "to": "2025-01-31", "compare_to": "2024-12-31"},
    "cash": {
        "report": "cash_flow",
        "from": "2025-01-01",
        "to": "2025-01-31",
        "compare_from": "2024-12-01",
        "compare_to": "2024-12-31",
    },
    "aged": {"report": "aged_receivables", "to": "2025-03-31", "compare_to": "2025-01-31"},
}


def _row(name: str, amount: float, previous: float | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"account_id": name.lower().replace(" ", "_"), "name": name}
    row["amount"] = amount
    if previous is not None:
        row["previous"] = previous
    return row


REPORTS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "pnl": (
        {
            "currency": "USD",
            "income": [_row("Sales", 2900, 1000)],
            "expenses": [_row("Rent", 800, 300), _row("Office supplies", 450, 0)],
            "total_income": 2900,
            "total_expenses": 1250,
            "net_profit": 1650,
            "comparison": {"total_income": 1000, "total_expenses": 300, "net_profit": 700},
        },
        None,
    ),
    "loss": (
        {
            "currency": "USD",
            "income": [_row("Consulting", 1000)],
            "expenses": [_row("Wages", 1500), _row("Rent", 300)],
            "total_income": 1000,
            "total_expenses": 1800,
            "net_profit": -800,
        },
        None,
    ),
    "balance": (
        {
            "currency": "USD",
            "assets": [_row("Checking", 6450), _row("Accounts receivable", 2900)],
            "liabilities": [_row("Accounts payable", 800)],
            "equity": [_row("Retained earnings", 8550)],
            "total_assets": 9350,
            "total_liabilities": 800,
            "total_equity": 8550,
        },
        {
            "currency": "USD",
            "assets": [_row("Checking", 4700), _row("Accounts receivable", 1000)],
            "liabilities": [],
            "equity": [_row("Retained earnings", 5700)],
            "total_assets": 5700,
            "total_liabilities": 0,
            "total_equity": 5700,
        },
    ),
    "cash": (
        {
            "currency": "USD",
            "opening_cash": 4700,
            "inflows": [{"name": "Customer payments", "amount": 1000}],
            "outflows": [{"name": "Rent paid", "amount": 450}],
            "total_inflows": 1000,
            "total_outflows": 450,
            "net_change": 550,
            "closing_cash": 5250,
        },
        {
            "currency": "USD",
            "opening_cash": 0,
            "inflows": [],
            "outflows": [],
            "total_inflows": 5000,
            "total_outflows": 300,
            "net_change": 4700,
            "closing_cash": 4700,
        },
    ),
    "aged": (
        {
            "currency": "USD",
            "kind": "receivables",
            "total": 2900,
            "totals": {"current": 0, "1-30": 0, "31-60": 400, "61-90": 1500, "90+": 1000},
            "contacts": [
                {"name": "Studio 54", "total": 2500, "current": 0},
                {"name": "Globex", "total": 400, "current": 0},
            ],
        },
        {"currency": "USD", "kind": "receivables", "total": 3400, "totals": {}, "contacts": []},
    ),
}


def facts(book: str) -> tuple[list[F.Fact], list[F.Finding]]:
    report, previous = REPORTS[book]
    return F.compute(REQUESTS[book]["report"], report, previous, PLACES)


def scope(book: str) -> Scope:
    return scope_of(REQUESTS[book], facts(book)[1])


class Books:
    """The analysis graph's books port over these reports (no store)."""

    async def profit_and_loss(self, *args: Any) -> dict[str, Any]:
        return REPORTS["pnl"][0]

    async def balance_sheet(self, as_of: str) -> dict[str, Any]:
        return REPORTS["balance"][0]

    async def cash_flow(self, start: str, end: str) -> dict[str, Any]:
        return REPORTS["cash"][0]

    async def aged(self, which: str, as_of: str) -> dict[str, Any]:
        return REPORTS["aged"][0]

    def precision(self, currency: str) -> int:
        return PLACES


class Records:
    """The records port that keeps nothing."""

    async def save(self, insight: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
        return insight
