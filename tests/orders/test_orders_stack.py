"""Orders end to end on the real stack (`python -m supervisor`: uvicorn, a worker, Valkey,
the SQLite file): buy goods on a purchase order, receive and bill them, sell them on a sales
order that reserves them, deliver in two parts raced by a plain invoice over real HTTP,
invoice, and find the books balanced with goods received not billed cleared."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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


async def test_buy_receive_bill_sell_deliver_invoice(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        body = {"email": unique_email("orders"), "password": PASSWORD, "name": "E2E"}
        registered = await http.post("/api/auth/register", json={**body, "company_name": "O"})
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['data']['token']}"}

        async def call(method: str, url: str, status: int = 200, **kw: Any) -> Any:
            response = await http.request(method, url, headers=headers, **kw)
            assert response.status_code == status, (url, response.text)
            return response.json()["data"]

        item = await call("POST", "/api/items", 201, json={"name": "Lamp", "track_inventory": True})
        supplier = await call("POST", "/api/contacts", 201, json={"name": "S", "type": "supplier"})
        customer = await call("POST", "/api/contacts", 201, json={"name": "C"})
        line = {"item_id": item["id"], "quantity": 5}

        po = await call(
            "POST",
            "/api/purchases/orders",
            201,
            json={
                "contact_id": supplier["id"],
                "issued_at": "2026-11-02",
                "lines": [{**line, "price": 12}],
            },
        )
        await call("POST", f"/api/purchases/orders/{po['id']}/confirm")
        await call("POST", f"/api/purchases/orders/{po['id']}/receive", json={"date": "2026-11-03"})
        bill = await call(
            "POST", f"/api/purchases/orders/{po['id']}/bill", 201, json={"status": "sent"}
        )
        assert bill["total"] == 60
        assert (await call("GET", f"/api/purchases/orders/{po['id']}"))["status"] == "completed"

        so = await call(
            "POST",
            "/api/sales/orders",
            201,
            json={
                "contact_id": customer["id"],
                "issued_at": "2026-11-04",
                "lines": [{**line, "quantity": 4, "price": 30}],
            },
        )
        await call("POST", f"/api/sales/orders/{so['id']}/confirm")
        # one unit is free; the order's four are held, whatever races for them
        invoice = {
            "type": "invoice",
            "contact_id": customer["id"],
            "issued_at": "2026-11-05",
            "due_at": "2026-11-05",
            "status": "sent",
            "lines": [{**line, "quantity": 2}],
        }
        part = {"date": "2026-11-05", "lines": [{"line": 1, "quantity": 2}]}
        answers = await asyncio.gather(
            http.post(f"/api/sales/orders/{so['id']}/deliver", json=part, headers=headers),
            http.post("/api/documents", json=invoice, headers=headers),
            http.post(f"/api/sales/orders/{so['id']}/deliver", json=part, headers=headers),
        )
        assert [r.status_code for r in answers] == [200, 409, 200], [r.text for r in answers]
        sale = await call(
            "POST", f"/api/sales/orders/{so['id']}/invoice", 201, json={"status": "sent"}
        )
        assert sale["total"] == 120
        so = await call("GET", f"/api/sales/orders/{so['id']}")
        assert (so["status"], so["delivered_percent"], so["invoiced_percent"]) == (
            "completed",
            100,
            100,
        )

        chart = await call("GET", "/api/accounting/chart-of-accounts", params={"limit": 200})
        keys = {a["id"]: a.get("system") or a["code"] for a in chart}
        tb = await call("GET", "/api/reports/trial-balance")
        assert tb["balanced"] is True
        balances = {
            keys[row["account_id"]]: row["debit"] - row["credit"]
            for row in tb["accounts"]
            if row["debit"] != row["credit"]
        }
        assert balances == {
            "inventory": 12,
            "receivable": 120,
            "payable": -60,
            "sales": -120,
            "cogs": 48,
        }
