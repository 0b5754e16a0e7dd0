"""Stock on the real platform (`python -m supervisor`: Valkey, the API under uvicorn, a
worker): an item with opening stock, twenty removals of the last five units racing over
real HTTP (exactly five pass), a transfer, a backdated receipt that revalues the removals,
and the stock report, stock ledger and trial balance read back through the API."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_supervisor import Platform
from tests.helpers import PASSWORD, unique_email

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def test_stock_under_concurrency_and_backdating(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        body = {
            "email": unique_email("stock"),
            "password": PASSWORD,
            "name": "Stock",
            "company_name": "Depot",
        }
        registered = ok(await http.post("/api/auth/register", json=body), 201)
        http.headers["Authorization"] = f"Bearer {registered['token']}"
        item = ok(
            await http.post(
                "/api/items",
                json={
                    "name": "Crate",
                    "track_inventory": True,
                    "opening_stock": 8,
                    "opening_cost": 10,
                },
            ),
            201,
        )
        east = ok(
            await http.post("/api/inventory/warehouses", json={"code": "EAST", "name": "East"}), 201
        )
        moved = ok(
            await http.post(
                "/api/inventory/transfers",
                json={
                    "to_warehouse_id": east["id"],
                    "status": "completed",
                    "lines": [{"item_id": item["id"], "quantity": 3}],
                },
            ),
            201,
        )
        assert moved["lines"][0]["value"] == 30

        def removal() -> Any:
            return http.post(
                "/api/inventory/adjustments",
                json={
                    "reason": "breakage",
                    "status": "completed",
                    "lines": [{"item_id": item["id"], "mode": "remove", "quantity": 1}],
                },
            )

        answers = await asyncio.gather(*(removal() for _ in range(20)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] * 5 + [409] * 15, [r.text for r in answers if r.status_code >= 500]
        # 4 more arrive, dated yesterday: before every movement (the opening stock is today's)
        ok(
            await http.post(
                "/api/inventory/adjustments",
                json={
                    "reason": "late delivery note",
                    "date": yesterday,
                    "status": "completed",
                    "lines": [
                        {"item_id": item["id"], "mode": "add", "quantity": 4, "unit_cost": 16}
                    ],
                },
            ),
            201,
        )
        report = ok(await http.get("/api/inventory/stock-report"))
        rows = {r["warehouse_code"]: (r["quantity"], r["value"]) for r in report["rows"]}
        # MAIN: 4 at 16 + 8 at 10 = 144 for 12; 3 leave for EAST at 12 (36), 5 removed (60)
        assert rows == {"MAIN": (4, 48), "EAST": (3, 36)}
        ledger = ok(
            await http.get(
                "/api/inventory/ledger", params={"item_id": item["id"], "warehouse_id": east["id"]}
            )
        )
        assert [(r["quantity"], r["value_after"]) for r in ledger["rows"]] == [(3, 36)]
        tb = ok(await http.get("/api/reports/trial-balance"))
        assert tb["balanced"] is True
        chart = ok(await http.get("/api/accounting/chart-of-accounts", params={"limit": 200}))
        inventory = next(a["id"] for a in chart if a.get("system") == "inventory")
        balance = next(r for r in tb["accounts"] if r["account_id"] == inventory)
        assert balance["debit"] - balance["credit"] == report["total_value"] == 84
    platform.stop(signal.SIGTERM)
