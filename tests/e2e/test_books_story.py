"""One month of a small company's books, told through the API and checked against figures
worked out by hand (the arithmetic is in the comments, in USD unless it says EUR).

It runs against the in-process app (the `client` fixture): the story is about the ledger,
not the process tree, which `tests/e2e/test_supervisor.py` covers.
"""

from __future__ import annotations

import httpx
import pytest

from tests.accounting import books as bk
from tests.helpers import data, register

pytestmark = pytest.mark.e2e


@pytest.mark.e2e
async def test_books_story(client: httpx.AsyncClient) -> None:
    # A consultancy keeps its books in USD and bills a German client in EUR.
    owner = await register(client, name="Story Owner", company_name="Story Owner Ltd")
    co = await bk.fresh_company(owner, "Story Consulting", base="USD")
    await bk.currency(co, "EUR", "1.1")  # 1 EUR = 1.10 USD
    hans = await bk.contact(co, name="Hans GmbH", currency="EUR")
    vat = await bk.tax(co, 10)
    euro_bank = await bk.bank(co, "Sparkasse EUR", currency="EUR", opened_at="2025-03-01")
    dollar_bank = await bk.bank(co, "Chase USD", opened_at="2025-03-01")
    ledger = {
        euro_bank["ledger_account_id"]: "euro_bank",
        dollar_bank["ledger_account_id"]: "usd_bank",
    }

    async def balances(as_of: str) -> dict[str, float]:
        accounts = await bk.chart(co)
        names = {a["id"]: key for key, a in accounts.items()}
        tb = await bk.trial_balance(co, as_of=as_of)
        assert tb["balanced"] is True
        return {
            ledger.get(row["account_id"], names[row["account_id"]]): row["debit"] - row["credit"]
            for row in tb["accounts"]
            if row["debit"] != row["credit"]
        }

    # 3 March: invoice 2 days of consulting at 500 EUR, plus 10% VAT.
    #   net 2 x 500 = 1,000 EUR, VAT 100 EUR, total 1,100 EUR
    #   at 1.10: net 1,100 USD, VAT 110 USD, receivable 1,210 USD
    invoice = await bk.document(
        co,
        "invoice",
        hans["id"],
        [bk.line(500, 2, name="Consulting day", tax_ids=[vat["id"]])],
        issued_at="2025-03-03",
        due_at="2025-04-02",
        status="sent",
    )
    assert (invoice["number"], invoice["currency"], invoice["rate"]) == ("INV-00001", "EUR", 1.1)
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (1000, 100, 1100)
    assert invoice["total_base"] == 1210
    assert await balances("2025-03-03") == {"receivable": 1210, "sales": -1100, "tax_payable": -110}

    # 15 March: Hans pays 400 EUR into the euro account, still at 1.10.
    #   bank +440 USD; receivable -440 USD (400 EUR at the invoice's 1.10); no FX
    first = await bk.pay(co, invoice["id"], euro_bank["id"], 400, paid_at="2025-03-15")
    assert (first["type"], first["amount"], first["amount_base"]) == ("income", 400, 440)
    # (stored as partial; read today, long after its due date, it is overdue)
    invoice = await bk.get_document(co, invoice["id"])
    assert (invoice["status"], invoice["paid"], invoice["due"]) == ("overdue", 400, 700)

    # 20 March: a credit note of 100 EUR for a half day not worked.
    #   sales -110 USD (100 EUR at the invoice's 1.10), receivable -110 USD
    #   Hans now owes 1,100 - 400 - 100 = 600 EUR, carried at 600 x 1.10 = 660 USD
    note = data(
        await co.post(
            "/api/credit-notes",
            json={
                "document_id": invoice["id"],
                "issued_at": "2025-03-20",
                "amount": 100,
                "reason": "Half day not worked",
            },
        ),
        201,
    )
    assert (note["number"], note["total"]) == ("CN-00001", 100)
    invoice = await bk.get_document(co, invoice["id"])
    assert (invoice["credited"], invoice["due"]) == (100, 600)

    # The invoice was due on 2 April: on 10 April it is 8 days late, 660 USD in 1-30.
    aged = data(await co.get("/api/reports/aged-receivables", params={"as_of": "2025-04-10"}))
    assert aged["totals"] == {"current": 0, "1-30": 660, "31-60": 0, "61-90": 0, "90+": 0}
    assert [(c["name"], c["total"]) for c in aged["contacts"]] == [("Hans GmbH", 660)]

    # 28 March: the euro has risen to 1.20 when Hans pays the remaining 600 EUR.
    #   bank +720 USD (600 x 1.20); receivable -660 USD (its carrying amount);
    #   exchange gain 720 - 660 = 60 USD
    await bk.set_rate(co, "EUR", "1.2")
    final = await bk.pay(co, invoice["id"], euro_bank["id"], 600, paid_at="2025-03-28")
    assert (final["amount"], final["amount_base"]) == (600, 720)
    invoice = await bk.get_document(co, invoice["id"])
    assert (invoice["status"], invoice["paid"], invoice["credited"], invoice["due"]) == (
        "paid",
        1000,
        100,
        0,
    )

    # 31 March: 500 EUR move to the dollar account; the bank gives 1.18, not 1.20.
    #   euro bank -600 USD (500 x 1.20), dollar bank +590 USD (500 x 1.18), FX loss 10 USD
    transfer = data(
        await co.post(
            "/api/transfers",
            json={
                "from_account_id": euro_bank["id"],
                "to_account_id": dollar_bank["id"],
                "amount": 500,
                "rate": "1.18",
                "transferred_at": "2025-03-31",
            },
        ),
        201,
    )
    assert (transfer["amount"], transfer["to_amount"], transfer["to_currency"]) == (500, 590, "USD")
    # In their own currencies: the euro account holds 400 + 600 - 500 = 500 EUR,
    # the dollar account 590 USD.
    assert data(await co.get(f"/api/accounts/{euro_bank['id']}"))["balance"] == 500
    assert data(await co.get(f"/api/accounts/{dollar_bank['id']}"))["balance"] == 590

    # Trial balance at 31 March, in USD:
    #   euro bank   440 + 720 - 600       = 560 Dr
    #   usd bank                            590 Dr
    #   receivable  1,210 - 440 - 110 - 660 =   0
    #   tax payable                         110 Cr
    #   sales       1,100 - 110           = 990 Cr
    #   fx          60 gain - 10 loss     =  50 Cr
    #   debits 560 + 590 = 1,150 = credits 110 + 990 + 50
    assert await balances("2025-03-31") == {
        "euro_bank": 560,
        "usd_bank": 590,
        "tax_payable": -110,
        "sales": -990,
        "fx": -50,
    }
    tb = await bk.trial_balance(co, as_of="2025-03-31")
    assert (tb["total_debit"], tb["total_credit"]) == (1150, 1150)

    # Profit and loss for March: income 990 sales + 50 exchange = 1,040; no expenses.
    pnl = data(
        await co.get(
            "/api/reports/profit-and-loss", params={"from": "2025-03-01", "to": "2025-03-31"}
        )
    )
    assert {r["name"]: r["amount"] for r in pnl["income"]} == {
        "Sales": 990,
        "Exchange gains and losses": 50,
    }
    assert (pnl["total_income"], pnl["total_expenses"], pnl["net_profit"]) == (1040, 0, 1040)

    # Balance sheet at 31 March: assets 560 + 590 = 1,150; liabilities 110 (VAT);
    # equity is this month's earnings, 1,040; 110 + 1,040 = 1,150.
    sheet = data(await co.get("/api/reports/balance-sheet", params={"as_of": "2025-03-31"}))
    assert (sheet["total_assets"], sheet["total_liabilities"], sheet["total_equity"]) == (
        1150,
        110,
        1040,
    )
    assert sheet["balanced"] is True

    # Cash flow for March: receipts 440 + 720 = 1,160 from Sales; the transfer is internal
    # and left out, except its 10 USD exchange loss, which moved no transaction:
    # closing 1,150 - opening 0 = 1,150 = 1,160 in - 0 out - 10 other.
    flow = data(
        await co.get("/api/reports/cash-flow", params={"from": "2025-03-01", "to": "2025-03-31"})
    )
    assert (flow["opening_cash"], flow["closing_cash"], flow["net_change"]) == (0, 1150, 1150)
    assert [(r["name"], r["amount"]) for r in flow["inflows"]] == [("Sales", 1160)]
    assert (flow["total_inflows"], flow["total_outflows"], flow["other_movements"]) == (
        1160,
        0,
        -10,
    )

    # Aged receivables at the end of the story: Hans owes nothing.
    aged = data(await co.get("/api/reports/aged-receivables", params={"as_of": "2025-04-10"}))
    assert (aged["total"], aged["contacts"]) == (0, [])
