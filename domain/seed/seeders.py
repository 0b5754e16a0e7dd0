"""The seeders of the areas Numbors has: each makes its demo objects through the domain.

Each seeder reads its sizes from the profile (`Seeding.count`) and the objects of the seeders
it depends on (`Seeding.ids`); the graph (`graph.py`) orders them. Documents are dated in
the 120 days before the run's as-of date; about two invoices in three are sent, most of those
paid in full or in part from the operating account, the rest left open (so the ageing has
something to show); bills likewise. Amounts are whole currency units times an item's price,
so totals are exact at every precision.

Stocked goods are items of their own (tracking inventory), apart from the invoiced ones, so
an invoice never waits on stock.

POS (`pos`): a terminal, a loyalty programme, and sessions opened, sold through and closed
one after the other, each through the POS area (orders by its idempotency key, the close
counting exactly the cash the session expects, so it posts no difference); a sale is paid
by card (its exact total, computed by the documents' own line rules) or in cash rounded up
to 5 units (change given). Bank feeds (`bank_feeds`): a statement connection on the
operating account, a rule that proposes a category with the standard tax for office
supplies, and one CSV statement imported through `bankfeeds/sync.py`: a payment line for
some of the invoices left open (amount and number, so each is suggested) and card spend.
Each line's bank id derives from what it stands for, so importing again writes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.bankfeeds import sync as feed_sync
from domain.documents.lines import build_lines
from domain.money import precision
from domain.pos import sessions as pos_sessions
from domain.resources import act
from domain.resources.registry import registry
from domain.seed.graph import Seeder
from domain.seed.seeding import Seeding

FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kira")
LAST = ("Moreau", "Okafor", "Silva", "Tanaka", "Novak", "Haddad", "Lind", "Rossi", "Byrne")
FIRMS = ("Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme", "Hooli", "Soylent")
KINDS = ("Ltd", "GmbH", "& Co", "Partners", "Group", "Labs", "Trading")
GOODS = ("Widget", "Gadget", "Cable", "Lamp", "Chair", "Desk", "Mug", "Notebook", "Bottle")
BATCH = 50  # documents per transaction
SERVICES = ("Consulting hour", "Workshop day", "Support plan", "Audit", "Design sprint")


def _company_name(s: Seeding, i: int) -> str:
    return f"{FIRMS[i % len(FIRMS)]} {KINDS[(i // len(FIRMS)) % len(KINDS)]} {i + 1}"


def _person(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"


async def taxes(s: Seeding) -> int:
    await s.make("standard", "taxes", {"name": "Sales tax 10%", "rate": 10})
    await s.make("reduced", "taxes", {"name": "Reduced rate 5%", "rate": 5})
    return s.made


async def currencies(s: Seeding) -> int:
    """Foreign currencies the demo's contacts may use (skipped when the company has one)."""
    for code, rate, name in (("EUR", "1.08", "Euro"), ("GBP", "1.27", "Pound sterling")):
        if await s.ctx.store.find_one("currencies", s.ctx.scope(code=code)) is None:
            await s.make(code, "currencies", {"code": code, "rate": rate, "name": name})
    return s.made


async def accounts(s: Seeding) -> int:
    await s.make(
        "operating",
        "accounts",
        {
            "name": f"Operating account ({s.suffix()})",
            "type": "bank",
            "bank_name": "First Demo Bank",
            "opening_balance": 25000,
            "opened_at": s.day(180),
        },
    )
    return s.made


async def contacts(s: Seeding) -> int:
    tag = s.suffix()
    for i in range(s.count("customers")):
        email = f"billing{i + 1}.{tag}@customers.example"
        await s.make(
            f"customer-{i}",
            "contacts",
            {"type": "customer", "name": _company_name(s, i), "email": email},
        )
    for i in range(s.count("suppliers")):
        name = f"{GOODS[i % len(GOODS)]} Supply {i + 1}"
        email = f"ap{i + 1}.{tag}@suppliers.example"
        await s.make(
            f"supplier-{i}", "contacts", {"type": "supplier", "name": name, "email": email}
        )
    for i in range(s.count("employees")):
        email = f"staff{i + 1}.{tag}@staff.example"
        await s.make(
            f"employee-{i}", "contacts", {"type": "employee", "name": _person(i), "email": email}
        )
    return s.made


async def items(s: Seeding) -> int:
    tax_ids = [*await s.ids("taxes", "standard"), *await s.ids("taxes", "reduced")]
    services = s.count("services")
    for i in range(s.count("items")):
        service = i < services
        base = SERVICES[i % len(SERVICES)] if service else GOODS[i % len(GOODS)]
        price = Decimal(s.rng.randrange(5, 400) * (5 if service else 1))
        data: dict[str, Any] = {
            "name": f"{base} {i + 1}",
            "sku": f"{'SRV' if service else 'GD'}-{s.suffix()}-{i + 1}",
            "sale_price": price,
            "purchase_price": (price * Decimal("0.6")).quantize(Decimal(1)),
            "tax_ids": tax_ids[: 1 if i % 4 else 0] if tax_ids else [],
            "unit": "hour" if service else "piece",
        }
        await s.make(f"item-{i}", "items", data)
    return s.made


async def _lines(s: Seeding, item_ids: list[str]) -> list[dict[str, Any]]:
    picked = s.rng.sample(item_ids, k=min(len(item_ids), s.rng.randint(1, 3)))
    return [{"item_id": item, "quantity": s.rng.randint(1, 8)} for item in picked]


async def _documents(s: Seeding, kind: str, how_many: int) -> int:
    parties = await s.ids("contacts", "customer" if kind == "invoice" else "supplier")
    item_ids = await s.ids("items", "item")
    [bank] = await s.ids("accounts", "operating") or [None]
    if not parties or not item_ids:
        return s.made
    for start in range(0, how_many, BATCH):
        # One transaction per batch: one commit instead of one per document and payment.
        async with s.ctx.store.transaction():
            for i in range(start, min(start + BATCH, how_many)):
                await _document(s, kind, i, parties, item_ids, bank)
    return s.made


async def _document(
    s: Seeding, kind: str, i: int, parties: list[str], item_ids: list[str], bank: str | None
) -> None:
    issued_ago = s.rng.randint(0, 120)
    sent = s.rng.random() < 0.7
    body = {
        "type": kind,
        "contact_id": parties[i % len(parties)],
        "issued_at": s.day(issued_ago),
        "due_at": s.day(issued_ago - 30),
        "status": "sent" if sent else "draft",
        "lines": await _lines(s, item_ids),
    }
    doc_id = await s.make(f"{kind}-{i}", "documents", body)
    share = s.rng.random()
    if sent and bank is not None and share >= 0.25:
        await _pay(s, f"{kind}-payment-{i}", doc_id, bank, issued_ago, share)


async def _pay(
    s: Seeding, name: str, doc_id: str, bank: str, issued_ago: int, share: float
) -> None:
    doc = await s.ctx.store.find_one("documents", s.ctx.scope(_id=doc_id))
    assert doc is not None
    total = doc["total"]
    amount = total if share > 0.55 else total // 2
    if amount <= 0:
        return
    places = doc["precision"]
    paid_ago = max(0, issued_ago - s.rng.randint(0, 25))
    await s.make(
        name,
        "transactions",
        {
            "account_id": bank,
            "document_id": doc_id,
            "paid_at": s.day(paid_ago),
            "amount": Decimal(amount).scaleb(-places),
            "payment_method": "bank transfer",
        },
    )


async def invoices(s: Seeding) -> int:
    return await _documents(s, "invoice", s.count("invoices"))


async def bills(s: Seeding) -> int:
    return await _documents(s, "bill", s.count("bills"))


async def estimates(s: Seeding) -> int:
    customers = await s.ids("contacts", "customer")
    item_ids = await s.ids("items", "item")
    if not customers or not item_ids:
        return s.made
    for i in range(s.count("estimates")):
        ago = s.rng.randint(0, 60)
        body = {
            "contact_id": customers[i % len(customers)],
            "issued_at": s.day(ago),
            "expires_at": s.day(ago - 30),
            "lines": await _lines(s, item_ids),
        }
        await s.make(f"estimate-{i}", "estimates", body)
    return s.made


async def credit_notes(s: Seeding) -> int:
    """A small goodwill credit on some sent, unpaid invoices."""
    wanted, credited = s.count("credit_notes"), 0
    for i, doc_id in enumerate(await s.ids("invoices", "invoice")):
        if credited >= wanted:
            break
        if await s.has(f"credit-{i}"):  # made before: its invoice is credited now
            credited += 1
            continue
        doc = await s.ctx.store.find_one("documents", s.ctx.scope(_id=doc_id))
        if doc is None or doc["status"] != "sent" or doc["paid"] or doc["credited"]:
            continue
        places = doc["precision"]
        amount = Decimal(max(doc["total"] // 10, 1)).scaleb(-places)
        body = {
            "document_id": doc_id,
            "issued_at": doc["issued_at"],
            "amount": amount,
            "reason": "Goodwill credit for a late delivery",
        }
        await s.make(f"credit-{i}", "credit-notes", body)
        credited += 1
    return s.made


async def projects(s: Seeding) -> int:
    customers = await s.ids("contacts", "customer")
    staff = await s.ids("contacts", "employee")
    if not customers:
        return s.made
    for i in range(s.count("projects")):
        project = await s.make(
            f"project-{i}",
            "projects",
            {
                "name": f"Engagement {i + 1} for {_company_name(s, i)}",
                "code": f"PRJ-{s.suffix()}-{i + 1}",
                "customer_id": customers[i % len(customers)],
                "billing_method": "hourly",
                "hourly_rate": 120,
                "starts_at": s.day(120),
            },
        )
        for j in range(s.count("time_entries") if staff else 0):
            body = {
                "project_id": project,
                "person_id": staff[j % len(staff)],
                "date": s.day(s.rng.randint(0, 90)),
                "hours": Decimal(s.rng.randint(2, 16)) / 2,
                "notes": "Delivery work",
            }
            await s.make(f"time-{i}-{j}", "projects/time", body)
    return s.made


async def payroll(s: Seeding) -> int:
    """A department, its employees on salary, and last month's pay run approved (posted)."""
    staff = await s.ids("contacts", "employee")
    if not staff:
        return s.made
    department = await s.make(
        "department",
        "payroll/departments",
        {"name": f"Operations ({s.suffix()})", "manager_id": staff[0]},
    )
    for i, person in enumerate(staff):
        body = {
            "contact_id": person,
            "department_id": department,
            "hired_at": s.day(400),
            "pay_frequency": "monthly",
            "pay_type": "salary",
            "annual_salary": 36000 + 6000 * (i % 5),
            "components": [
                {
                    "name": "Pension",
                    "kind": "deduction",
                    "calculation": "percent_of_gross",
                    "rate": 5,
                }
            ],
        }
        await s.make(f"employee-{i}", "payroll/employees", body)
    last_day = s.as_of.replace(day=1) - timedelta(days=1)
    start = last_day.replace(day=1)
    runs = registry().resource("payroll/pay-runs")

    async def approve(run: dict[str, Any]) -> None:
        action = runs.action("approve")
        assert action.input is not None
        body = action.input.model_validate({"version": run.get("version", 1)})
        await act(s.ctx, runs, action, run["_id"], body)

    await s.make(
        f"pay-run-{start.isoformat()}",
        runs,
        {
            "period_start": start.isoformat(),
            "period_end": last_day.isoformat(),
            "pay_date": last_day.isoformat(),
            "department_id": department,
        },
        after=approve,
    )
    return s.made


async def crm(s: Seeding) -> int:
    customers = await s.ids("contacts", "customer")
    for i in range(s.count("deals") if customers else 0):
        body = {
            "name": f"Opportunity {i + 1}",
            "contact_id": customers[i % len(customers)],
            "value": s.rng.randrange(1000, 50000, 500),
            "expected_close_at": s.day(-s.rng.randint(5, 90)),
        }
        await s.make(f"deal-{i}", "crm/deals", body)
    return s.made


async def inventory(s: Seeding) -> int:
    """A demo depot, stocked goods (items that track inventory, apart from the invoiced
    ones so a sale never waits on stock) and a completed opening count per item."""
    depot = await s.make(
        "depot",
        "inventory/warehouses",
        {
            "code": f"DEMO-{hashlib.sha1(s.tag.encode()).hexdigest()[:6]}",
            "name": f"Demo depot ({s.suffix()})",
        },
    )
    for i in range(s.count("stocked_items")):
        cost = Decimal(s.rng.randrange(2, 200))
        item = await s.make(
            f"stocked-{i}",
            "items",
            {
                "name": f"Stocked {GOODS[i % len(GOODS)]} {i + 1}",
                "sku": f"STK-{s.suffix()}-{i + 1}",
                "sale_price": cost * 2,
                "purchase_price": cost,
                "track_inventory": True,
                "unit": "piece",
            },
        )
        await s.make(
            f"count-{i}",
            "inventory/adjustments",
            {
                "warehouse_id": depot,
                "date": s.day(100),
                "reason": "Opening stock count",
                "status": "completed",
                "lines": [
                    {
                        "item_id": item,
                        "mode": "add",
                        "quantity": s.rng.randint(5, 200),
                        "unit_cost": cost,
                    }
                ],
            },
        )
    return s.made


TOPICS = ("log in", "export invoices", "change the VAT number", "add a user", "reset a password")


async def helpdesk(s: Seeding) -> int:
    for i, topic in enumerate(TOPICS[: s.count("articles")]):
        body = {
            "title": f"How do I {topic}?",
            "body": f"Open **Settings** and follow the steps to {topic}.",
            "tags": ["demo"],
            "status": "published",
        }
        await s.make(f"article-{i}", "helpdesk/articles", body)
    for i in range(s.count("tickets")):
        body = {
            "subject": f"Cannot {TOPICS[i % len(TOPICS)]} ({i + 1})",
            "description": "Demo ticket from the seed conductor.",
            "requester_email": f"user{i + 1}.{s.suffix()}@customers.example",
            "priority": ("low", "medium", "high")[i % 3],
            "channel": "email",
        }
        await s.make(f"ticket-{i}", "helpdesk/tickets", body)
    return s.made


async def pos(s: Seeding) -> int:
    """A terminal, a loyalty programme and `pos_sessions` sessions of `pos_orders` sales
    each (one in three to a named customer, who earns points), each session closed."""
    item_ids = await s.ids("items", "item")
    customers = await s.ids("contacts", "customer")
    if not item_ids:
        return s.made
    terminal = await s.make("terminal", "pos/terminals", {"name": f"Front till ({s.suffix()})"})
    if customers:
        await s.make(
            "loyalty",
            "pos/loyalty/programs",
            {
                "name": f"Regulars ({s.suffix()})",
                "points_per_unit": 1,
                "redemption_value": Decimal("0.05"),
            },
        )
    sessions = registry().resource("pos/sessions")
    close = sessions.action("close")
    for i in range(s.count("pos_sessions")):
        session_id = await s.make(
            f"session-{i}", sessions, {"terminal_id": terminal, "opening_cash": 100}
        )
        session = await s.ctx.store.find_one("pos_sessions", s.ctx.scope(_id=session_id))
        assert session is not None
        places = precision(session["currency"])
        for j in range(s.count("pos_orders")):
            # every sale draws, made or not, so a resumed apply draws what the first one did
            await _sale(s, i, j, session_id, item_ids, customers, places)
        session = await s.ctx.store.find_one("pos_sessions", s.ctx.scope(_id=session_id))
        assert session is not None
        if session["status"] == "closed":
            continue  # closed by an earlier apply, with these sales in it
        counted = Decimal(pos_sessions.expected_cash(session)).scaleb(-places)
        assert close.input is not None
        await act(s.ctx, sessions, close, session_id, close.input(counted_cash=counted))
    return s.made


async def _sale(
    s: Seeding,
    i: int,
    j: int,
    session_id: str,
    item_ids: list[str],
    customers: list[str],
    places: int,
) -> None:
    lines = await _lines(s, item_ids)
    by_card = s.rng.random() < 0.4
    customer = customers[s.rng.randrange(len(customers))] if customers else None
    named = customer is not None and s.rng.random() < 1 / 3
    if await s.has(f"order-{i}-{j}"):
        return  # drawn above all the same, so the next sale draws what it drew before
    _, totals = await build_lines(s.ctx, lines, places)
    total = Decimal(totals.total).scaleb(-places)
    if by_card:
        payment = {"method": "card", "amount": total}
    else:
        payment = {"method": "cash", "amount": (total / 5).to_integral_value("ROUND_CEILING") * 5}
    body = {
        "session_id": session_id,
        "idempotency_key": f"seed:{s.suffix()}:{i}:{j}",
        "lines": lines,
        "payments": [payment],
        **({"customer_id": customer} if named else {}),
    }
    await s.make(f"order-{i}-{j}", "pos/orders", body)


async def bank_feeds(s: Seeding) -> int:
    """A statement connection on the operating account, a rule, and one statement imported
    through the bank feed's own import (its lines evaluated: suggestions, the rule)."""
    [bank] = await s.ids("accounts", "operating") or [None]
    if bank is None:
        return s.made
    conn = await s.make(
        "connection",
        "banking/feeds/connections",
        {
            "name": f"Statements ({s.suffix()})",
            "account_id": bank,
            "provider": "file",
            "csv_mapping": {
                "date": "Date",
                "description": "Text",
                "amount": "Amount",
                "counterparty": "Payee",
                "id": "Id",
            },
        },
    )
    [tax] = await s.ids("taxes", "standard") or [None]
    await s.make(
        "rule",
        "banking/feeds/rules",
        {
            "name": f"Office supplies ({s.suffix()})",
            "conditions": [{"field": "description", "operator": "contains", "value": "office"}],
            "direction": "out",
            **({"tax_id": tax} if tax else {}),
        },
    )
    rows: list[tuple[str, str, str, str, str]] = []
    for position, doc_id in enumerate(await s.ids("invoices", "invoice")):
        if len(rows) >= s.count("feed_matches"):
            break
        doc = await s.ctx.store.find_one("documents", s.ctx.scope(_id=doc_id))
        if doc is None or doc["status"] not in ("sent", "overdue") or doc["paid"]:
            continue
        contact = await s.ctx.store.find_one("contacts", s.ctx.scope(_id=doc["contact_id"]))
        paid_ago = max(0, (s.as_of - date_of(doc["issued_at"])).days - 10)
        amount = Decimal(doc["due"]).scaleb(-doc["precision"])
        rows.append(
            (
                f"inv-{position}",
                s.day(paid_ago),
                f"Payment {doc['number']}",
                str(amount),
                (contact or {}).get("name", ""),
            )
        )
    for k in range(s.count("feed_spend")):
        what = ("Office supplies", "Card fee", "Coffee beans", "Parking")[k % 4]
        amount = Decimal(s.rng.randrange(300, 30000)).scaleb(-2)
        rows.append(
            (f"spend-{k}", s.day(s.rng.randint(0, 90)), f"{what} {k + 1}", f"-{amount}", "")
        )
    tag = s.suffix()
    csv = "Id,Date,Text,Amount,Payee\n" + "".join(
        f"{tag}-{key},{day},{text},{amount},{payee.replace(',', ' ')}\n"
        for key, day, text, amount, payee in rows
    )
    # the lines are the feed's, not seeded objects: the statement's digest and the lines'
    # keys make a second import write nothing
    await feed_sync.import_statement(s.ctx, conn, "csv", csv)
    return s.made


def date_of(day: str) -> date:
    return date.fromisoformat(day[:10])


SEEDERS: tuple[Seeder, ...] = (
    Seeder("taxes", "Taxes", ("taxes",), taxes),
    Seeder("currencies", "Currencies", ("currencies",), currencies),
    Seeder("accounts", "Bank accounts", ("accounts",), accounts),
    Seeder("contacts", "Customers, suppliers and staff", ("contacts",), contacts),
    Seeder("items", "Products and services", ("items",), items, requires=("taxes",)),
    Seeder(
        "invoices",
        "Invoices and their payments",
        ("documents", "transactions"),
        invoices,
        requires=("items",),
        module="invoicing",
    ),
    Seeder(
        "bills",
        "Bills and their payments",
        ("documents", "transactions"),
        bills,
        requires=("items",),
        module="invoicing",
    ),
    Seeder(
        "estimates", "Estimates", ("estimates",), estimates, requires=("items",), module="invoicing"
    ),
    Seeder(
        "credit_notes",
        "Credit notes",
        ("credit-notes",),
        credit_notes,
        requires=("invoices",),
        module="invoicing",
    ),
    Seeder(
        "projects", "Projects and time", ("projects", "projects/time"), projects, module="projects"
    ),
    Seeder(
        "payroll",
        "Employees and a pay run",
        ("payroll/departments", "payroll/employees", "payroll/pay-runs"),
        payroll,
        module="payroll",
    ),
    Seeder("crm", "CRM deals", ("crm/deals",), crm, module="crm"),
    Seeder(
        "inventory",
        "Warehouses and stock",
        ("inventory/warehouses", "inventory/adjustments"),
        inventory,
        requires=("items",),
        module="inventory",
    ),
    Seeder(
        "helpdesk",
        "Helpdesk tickets and articles",
        ("helpdesk/tickets", "helpdesk/articles"),
        helpdesk,
        module="helpdesk",
    ),
    Seeder(
        "pos",
        "POS sessions and sales",
        ("pos/terminals", "pos/loyalty/programs", "pos/sessions", "pos/orders"),
        pos,
        requires=("items", "contacts"),
        module="pos",
    ),
    Seeder(
        "bank_feeds",
        "Bank feed lines",
        ("banking/feeds/connections", "banking/feeds/rules"),
        bank_feeds,
        requires=("accounts", "invoices", "taxes"),
        module="banking",
    ),
)
