"""A shift at the till on the real platform (`python -m supervisor`: Valkey, the API under
uvicorn, a worker): a terminal and its session, a burst of orders over real HTTP with a
terminal's retries of the same order racing each other, the close counting the cash, its
journal entry, its invoice and the trial balance read back through the API."""

from __future__ import annotations

import asyncio
import signal
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


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def test_a_shift_at_the_till(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as http:
        body = {
            "email": unique_email("pos"),
            "password": PASSWORD,
            "name": "Till",
            "company_name": "Cafe",
        }
        registered = ok(await http.post("/api/auth/register", json=body), 201)
        http.headers["Authorization"] = f"Bearer {registered['token']}"

        vat = ok(await http.post("/api/taxes", json={"name": "VAT", "rate": 10}), 201)
        cake = ok(
            await http.post(
                "/api/items", json={"name": "Cake", "sale_price": 4, "tax_ids": [vat["id"]]}
            ),
            201,
        )
        till = ok(await http.post("/api/pos/terminals", json={"name": "Front"}), 201)
        session = ok(
            await http.post(
                "/api/pos/sessions/open", json={"terminal_id": till["id"], "opening_cash": 50}
            ),
            201,
        )
        again = await http.post("/api/pos/sessions/open", json={"terminal_id": till["id"]})
        assert again.status_code == 409 and again.json()["error"]["code"] == "session_already_open"

        def order(i: int) -> dict[str, Any]:
            # 4.00 + 0.40 VAT = 4.40; even orders pay cash 5 (0.60 change), odd by card
            pay = (
                {"method": "cash", "amount": 5} if i % 2 == 0 else {"method": "card", "amount": 4.4}
            )
            return {
                "session_id": session["id"],
                "idempotency_key": f"front:{i:04d}",
                "lines": [{"item_id": cake["id"]}],
                "payments": [pay],
            }

        # Ten orders, each sent three times at once (a terminal retrying after timeouts).
        sends = [http.post("/api/pos/orders", json=order(i)) for i in range(10) for _ in range(3)]
        answers = await asyncio.gather(*sends)
        assert [r.status_code for r in answers] == [201] * 30, [r.text for r in answers]
        ids = {r.json()["data"]["idempotency_key"]: r.json()["data"]["id"] for r in answers}
        assert len(ids) == 10 and len(set(ids.values())) == 10
        listed = ok(await http.get("/api/pos/orders", params={"session_id": session["id"]}))
        assert len(listed) == 10

        report = ok(await http.get(f"/api/pos/sessions/{session['id']}"))
        assert report["sales"] == 10 and report["expected_cash"] == 50 + 5 * 4.4
        closed = ok(
            await http.post(f"/api/pos/sessions/{session['id']}/close", json={"counted_cash": 72})
        )
        assert (closed["status"], closed["difference"]) == ("closed", 0)
        late = await http.post("/api/pos/orders", json=order(11))
        assert late.status_code == 409 and late.json()["error"]["code"] == "session_closed"

        entry = ok(await http.get(f"/api/accounting/journal/{closed['entry_id']}"))
        chart = ok(await http.get("/api/accounting/chart-of-accounts", params={"limit": 200}))
        names = {a["id"]: a.get("system") or a["code"] for a in chart}
        assert [(names[x["account_id"]], x["debit"], x["credit"]) for x in entry["lines"]] == [
            ("cash", 22, 0),
            ("suspense", 22, 0),
            ("sales", 0, 40),
            ("tax_payable", 0, 4),
        ]
        tb = ok(await http.get("/api/reports/trial-balance"))
        assert tb["balanced"] is True and tb["total_debit"] == tb["total_credit"] == 44
        [invoice_id] = closed["invoice_ids"]
        invoice = ok(await http.get(f"/api/documents/{invoice_id}"))
        assert (invoice["status"], invoice["total"], invoice["lines"][0]["quantity"]) == (
            "paid",
            44,
            10,
        )
    platform.stop(signal.SIGTERM)
