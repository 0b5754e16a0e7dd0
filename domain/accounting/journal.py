"""The double-entry journal. Every posting in the platform goes through `post`.

An entry is balanced (debits equal credits, in the base currency's minor units), has at
least two lines, and names only this company's enabled ledger accounts. Posted entries are
immutable: a correction is a reversing entry (`reverse`), linked both ways. Each line is
also written to `journal_lines`, flat and indexed, so reports are grouped sums, and added
to its account's month (`periods`), so reports over long ranges read months, not lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.accounting import periods
from domain.accounting.chart import account_in_company
from domain.context import Ctx
from domain.errors import Conflict, Invalid, not_found
from memory.ids import is_object_id, new_id, utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "journal_entries",
        fields=("company_id", "date", "number", "source.type", "source.id", "created_at"),
        indexes=(
            ("company_id", "date"),
            ("company_id", "source.id"),
            ("company_id", "manual"),
            ("company_id", "created_at"),
        ),
        unique=(("company_id", "number"),),
    )
)
declare(
    CollectionSpec(
        "journal_lines",
        fields=("company_id", "account_id", "account_type", "date", "debit", "credit", "entry_id"),
        # Covering indexes: reports read every figure they sum from the index alone, never
        # the JSON document (a virtual column outside an index is computed per row).
        indexes=(
            ("company_id", "account_id", "date", "debit", "credit"),
            ("company_id", "date", "account_type", "account_id", "debit", "credit"),
            ("entry_id",),
        ),
    )
)


@dataclass
class Draft:
    """An entry being composed. Negative amounts flip sides; zero lines are dropped."""

    date: str
    description: str
    source: dict[str, str] | None = None
    reference: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)

    def debit(self, account_id: str, amount: int, description: str | None = None) -> Draft:
        return self._add(account_id, amount, 0, description)

    def credit(self, account_id: str, amount: int, description: str | None = None) -> Draft:
        return self._add(account_id, 0, amount, description)

    def _add(self, account_id: str, debit: int, credit: int, description: str | None) -> Draft:
        net = debit - credit
        if net:
            line = {"account_id": account_id, "debit": max(net, 0), "credit": max(-net, 0)}
            if description:
                line["description"] = description
            self.lines.append(line)
        return self


async def post(ctx: Ctx, draft: Draft, *, manual: bool = False) -> dict[str, Any]:
    """Validate and write one entry with its lines, inside the caller's transaction."""
    if len(draft.lines) < 2:
        raise Invalid("a journal entry needs at least two lines", code="too_few_lines")
    debits = sum(line["debit"] for line in draft.lines)
    credits = sum(line["credit"] for line in draft.lines)
    if debits != credits:
        raise Conflict(
            f"the entry is unbalanced: debits {debits} and credits {credits} (minor units) "
            "must be equal",
            code="unbalanced_entry",
            details=[{"debits": debits, "credits": credits}],
        )
    accounts = {}
    for i, line in enumerate(draft.lines):
        account = accounts.get(line["account_id"]) or await account_in_company(
            ctx, line["account_id"], f"lines.{i}.account_id"
        )
        accounts[account["_id"]] = account
    now = utcnow()
    async with ctx.store.transaction():
        number = await ctx.store.next_value(f"{ctx.company_id}:journal")
        entry = {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "number": f"JE-{number:06d}",
            "date": draft.date,
            "description": draft.description,
            "reference": draft.reference,
            "source": draft.source,
            "manual": manual,
            "lines": draft.lines,
            "total": debits,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        }
        await ctx.store.insert_one("journal_entries", entry)
        lines = [
            {
                "company_id": ctx.company_id,
                "entry_id": entry["_id"],
                "account_id": line["account_id"],
                "account_type": accounts[line["account_id"]]["type"],
                "date": draft.date,
                "debit": line["debit"],
                "credit": line["credit"],
            }
            for line in draft.lines
        ]
        await ctx.store.insert_many("journal_lines", lines)
        await periods.add_lines(ctx, lines)
    return entry


async def reverse(
    ctx: Ctx, entry_id: str, date: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """Post the mirror of an entry (on `date`, default the entry's own) and link the two."""
    if not is_object_id(entry_id):
        raise Invalid(f"{entry_id!r} is not a valid journal entry id", code="invalid_id")
    async with ctx.store.transaction():
        entry = await ctx.store.find_one("journal_entries", ctx.scope(_id=entry_id))
        if entry is None:
            raise not_found("journal entry", entry_id)
        if entry.get("reversed_by"):
            raise Conflict(f"entry {entry['number']} is already reversed", code="already_reversed")
        if entry.get("reversal_of"):
            raise Conflict(f"entry {entry['number']} is itself a reversal", code="is_reversal")
        draft = Draft(
            date=date or entry["date"],
            description=description or f"Reversal of {entry['number']}",
            source=entry.get("source"),
        )
        for line in entry["lines"]:
            draft.lines.append({**line, "debit": line["credit"], "credit": line["debit"]})
        reversal = await post(ctx, draft, manual=entry.get("manual", False))
        await ctx.store.update_one(
            "journal_entries", ctx.scope(_id=reversal["_id"]), {"$set": {"reversal_of": entry_id}}
        )
        await ctx.store.update_one(
            "journal_entries", ctx.scope(_id=entry_id), {"$set": {"reversed_by": reversal["_id"]}}
        )
    return {**reversal, "reversal_of": entry_id}


async def reverse_source(ctx: Ctx, source_id: str, date: str | None, description: str) -> int:
    """Reverse every live entry posted for a document, payment or transfer (on `date`, or
    when None on each entry's own date)."""
    entries = await ctx.store.find(
        "journal_entries",
        ctx.scope(
            **{"source.id": source_id},
            reversed_by={"$exists": False},
            reversal_of={"$exists": False},
        ),
    )
    for entry in entries:
        await reverse(ctx, entry["_id"], date, description)
    return len(entries)
