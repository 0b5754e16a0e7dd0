"""Bringing books posted under earlier booking rules up to the current ones: by reversal and
re-post, never by editing a posted entry.

The rules corrected (issue 20):

1. A foreign-currency document's receivable (payable) is its total converted once at its
   rate (`posting.base_components`); it used to be the sum of the net and each tax
   converted separately, a cent or so away, which a payment of the total at the document's
   own rate then booked as an exchange difference.
2. Withholding goes to its own accounts (1350 Withholding tax credit on invoices and credit
   notes, 2150 Withholding tax payable on bills); it used to be netted against VAT (tax
   payable, tax receivable).

`correct_company` first gives the chart every system account of the standard chart it
lacks (`chart.add_missing_system_accounts`). Then, for each invoice and bill that the rules
can have changed (in a foreign currency, or with a withholding tax), it recomputes what the
current rules post and compares it, account by account, with the document's live entries
(neither reversed nor reversals):

- the document's entry: re-posted with the income (expense) account of the entry it
  replaces, so a category relinked since is not reclassified;
- then its payments and credit notes, replayed in the order they were made: each clears
  its share of the receivable (payable) at the document's rate, the one that settles the
  document clears the rest (`transactions.cleared_base`, `credit_notes.cleared_base`), so a
  payment of the total at the document's rate no longer books an exchange difference.

An entry that differs is reversed on its own date (linked both ways, described as a
correction) and the corrected one posted on that date, so each period reads as the current
rules would have booked it and the history shows what changed. The derived figures on the
records (`total_base`, `due_base` on the document; `cleared_base` on payments,
`total_base` and `cleared_base` on credit notes) are set to match. Entries already right are
left alone, so running it again changes nothing; every posted entry balances, so the trial
balance stays balanced throughout. Cancelled documents are history: their entries are
reversed already and they take no payments. A document whose correction would post to a
disabled account (the journal refuses one) is left entirely as it was and named in
`Corrections.skipped` and the log; enable the account and run it again (`force=True`).

`migrate` runs it for every company once per database, at start-up (`services.for_api`,
after `periods.backfill`), each company in its own transaction; `force=True` runs it again
(harmless: it is idempotent), e.g. after old code posted during a rolling deploy.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.accounting import journal
from domain.accounting.chart import add_missing_system_accounts
from domain.banking import transactions
from domain.context import Ctx
from domain.documents import credit_notes
from domain.documents.posting import base_components, category_account, document_draft
from memory.store import DocumentStore

log = logging.getLogger("numbors.corrections")
VERSION_COUNTER = "schema:ledger_rules"
RULES_VERSION = 1  # 1: receivables converted once, withholding on its own accounts
PAGE = 500
COLLECTION = {"transaction": "transactions", "credit_note": "credit_notes"}
POSTED = ("sent", "viewed", "partial", "paid")
# Accounts a document's entry posts to besides its income (expense) account.
SYSTEM_SIDE = frozenset(
    {
        "receivable",
        "payable",
        "tax_payable",
        "tax_receivable",
        "withholding_receivable",
        "withholding_payable",
        "fx",
    }
)


@dataclass
class Corrections:
    """What `correct_company` did."""

    accounts_added: list[str] = field(default_factory=list)  # codes
    documents: int = 0  # documents with anything corrected
    reversed: int = 0  # entries reversed
    posted: int = 0  # corrected entries posted
    records: int = 0  # documents, payments and credit notes whose base figures changed
    skipped: list[str] = field(default_factory=list)  # documents left as they were, and why

    def __bool__(self) -> bool:
        return bool(self.accounts_added or self.reversed or self.posted or self.records)


async def migrate(store: DocumentStore, *, force: bool = False) -> int:
    """Correct every company's books once per database (again with `force`). Answers how
    many companies it went through (0 when already done)."""
    if not force and await store.raise_counter(VERSION_COUNTER, 0) >= RULES_VERSION:
        return 0
    companies = await store.find("companies", None, sort=[("_id", 1)])
    for company in companies:
        async with store.transaction():
            await correct_company(Ctx(store, "system", company["_id"], "owner"))
    await store.raise_counter(VERSION_COUNTER, RULES_VERSION)
    return len(companies)


def _affected(doc: dict[str, Any]) -> bool:
    """Could the rules have posted this document differently? Only in a foreign currency
    (rate other than 1) or with a withholding tax; otherwise both rules post the same."""
    if Decimal(doc["rate"]) != 1 or doc["precision"] != doc["base_precision"]:
        return True
    return any(t["amount"] < 0 for t in doc.get("taxes", [])) or any(
        t.get("type") == "withholding" for line in doc.get("lines", []) for t in line["taxes"]
    )


async def correct_company(ctx: Ctx) -> Corrections:
    """Bring one company's books to the current rules (call inside a transaction)."""
    done = Corrections()
    done.accounts_added = [a["code"] for a in await add_missing_system_accounts(ctx)]
    accounts = {a["_id"]: a for a in await ctx.store.find("ledger_accounts", ctx.scope())}
    skip = 0
    while True:
        page = await ctx.store.find(
            "documents",
            ctx.scope(type={"$in": ["invoice", "bill"]}, status={"$ne": "cancelled"}),
            sort=[("_id", 1)],
            skip=skip,
            limit=PAGE,
        )
        for doc in page:
            if _affected(doc):
                await _correct_document(ctx, doc, accounts, done)
        if len(page) < PAGE:
            return done
        skip += PAGE


@dataclass
class _Plan:
    """What correcting one document takes: entries to replace, records to update."""

    replace: list[tuple[list[dict[str, Any]], journal.Draft | None]] = field(default_factory=list)
    records: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)

    def entry(self, live: list[dict[str, Any]], wanted: journal.Draft | None) -> None:
        have = _net([line for entry in live for line in entry["lines"]])
        want = _net(wanted.lines) if wanted else {}
        if have != want:
            self.replace.append((live, wanted if want else None))

    def record(self, collection: str, record: dict[str, Any], changes: dict[str, int]) -> None:
        changed = {k: v for k, v in changes.items() if record.get(k) != v}
        if changed:
            self.records.append((collection, record["_id"], changed))


async def _correct_document(
    ctx: Ctx, doc: dict[str, Any], accounts: dict[str, dict[str, Any]], done: Corrections
) -> None:
    plan = _Plan()
    amounts = base_components(doc)
    if doc["status"] in POSTED:
        live = await _live(ctx, doc["_id"])
        counter = await _counter_account(ctx, live, doc, accounts)
        plan.entry(live, await document_draft(ctx, doc, counter))

    due, due_base = doc["total"], amounts.total
    for kind, record in await _settlements(ctx, doc["_id"]):
        view = {**doc, "due": due, "due_base": due_base}
        live = await _live(ctx, record["_id"])
        if kind == "transaction":
            applied = record["applied"]
            changes = {"cleared_base": transactions.cleared_base(view, applied)}
            plan.entry(
                live, await transactions.payment_draft(ctx, {**record, **changes}, doc["type"])
            )
        else:
            applied = record["total"]
            total_base = base_components(record).total
            changes = {
                "total_base": total_base,
                "cleared_base": credit_notes.cleared_base(view, applied, total_base),
            }
            fixed = {**record, **changes}
            counter = await _counter_account(ctx, live, fixed, accounts)
            plan.entry(live, await document_draft(ctx, fixed, counter))
        plan.record(COLLECTION[kind], record, changes)
        due -= applied
        due_base -= changes["cleared_base"]
    plan.record("documents", doc, {"total_base": amounts.total, "due_base": due_base})
    if not plan.replace and not plan.records:
        return

    # The journal refuses a disabled account, and a correction half made (reversed, not
    # re-posted) must never be left: such a document is left as it is, and named.
    used = {
        line["account_id"]
        for live, wanted in plan.replace
        for line in [*(x for e in live for x in e["lines"]), *(wanted.lines if wanted else [])]
    }
    unusable = sorted(
        accounts[a]["code"] if a in accounts else a
        for a in used
        if a not in accounts or not accounts[a].get("enabled", True)
    )
    if unusable:
        done.skipped.append(f"{doc['number']}: account {', '.join(unusable)} disabled")
        log.warning("not corrected: %s in company %s", done.skipped[-1], ctx.company_id)
        return

    for live, wanted in plan.replace:
        for entry in live:
            await journal.reverse(
                ctx, entry["_id"], None, f"Reversal of {entry['number']} (booking rules corrected)"
            )
            done.reversed += 1
        if wanted is not None:
            replaced = ", ".join(entry["number"] for entry in live)
            wanted.description += (
                f" (corrected; replaces {replaced})" if replaced else " (corrected)"
            )
            await journal.post(ctx, wanted)
            done.posted += 1
    for collection, record_id, changed in plan.records:
        await ctx.store.update_one(collection, ctx.scope(_id=record_id), {"$set": changed})
        done.records += 1
    done.documents += 1


async def _settlements(ctx: Ctx, doc_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The document's payments and credit notes, in the order they were made."""
    payments = await ctx.store.find("transactions", ctx.scope(document_id=doc_id))
    notes = await ctx.store.find("credit_notes", ctx.scope(document_id=doc_id))
    both = [("transaction", p) for p in payments] + [("credit_note", n) for n in notes]
    return sorted(both, key=lambda kr: (kr[1].get("created_at", ""), kr[1]["_id"]))


async def _live(ctx: Ctx, source_id: str) -> list[dict[str, Any]]:
    return await ctx.store.find(
        "journal_entries",
        ctx.scope(
            **{"source.id": source_id},
            reversed_by={"$exists": False},
            reversal_of={"$exists": False},
        ),
        sort=[("number", 1)],
    )


async def _counter_account(
    ctx: Ctx,
    live: list[dict[str, Any]],
    doc: dict[str, Any],
    accounts: dict[str, dict[str, Any]],
) -> str:
    """The income (expense) account the document's entry posted to: the one account of its
    lines that is none of the system side's; the category's when there is no entry."""
    for entry in live:
        for line in entry["lines"]:
            if (accounts.get(line["account_id"]) or {}).get("system") not in SYSTEM_SIDE:
                return line["account_id"]
    return await category_account(ctx, doc)


def _net(lines: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for line in lines:
        out[line["account_id"]] += line["debit"] - line["credit"]
    return {k: v for k, v in out.items() if v}
