"""The aggregator port, shaped like Plaid's `/transactions/sync`, and its built-in `sandbox`.

`Provider.sync(connection, cursor)` answers one `Page`: `added`, `modified`, `removed` (keys),
`next_cursor`, `has_more`. The caller (`sync.py`) pages until `has_more` is false and keeps
the cursor only then, with the lines, in one transaction. A provider raises
`MutationDuringPagination` when the source changed while it was paged (the caller restarts
from the stored cursor, as Plaid asks on TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION) and
`RateLimited(retry_after)` when the source refuses more calls (GoCardless allows 4 a day per
account): the job is rescheduled after Retry-After instead of failing.

`sandbox` is deterministic test data, labelled as such on its connection and in every sync
result (like Plaid's sandbox): each sync from the end of the feed makes the bank "move on":
the pending line of the last sync posts (its pending key in `removed`, the posted one in
`added` with `replaces`), and `batch` new transactions arrive, the last of them pending.
What it answers is a pure function of the cursor and the connection's options (seed, batch,
page size, start day), so two syncs from one cursor see the same transactions.

A real aggregator is one adapter more (`PROVIDERS`): its client id and secret are process
settings that no response returns, and its network calls run in the worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from domain.bankfeeds.statements import Entry

SANDBOX_NOTICE = "sandbox: deterministic test transactions, not a real bank"


@dataclass(frozen=True)
class Page:
    added: list[Entry] = field(default_factory=list)
    modified: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    next_cursor: str = ""
    has_more: bool = False


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class MutationDuringPagination(Exception):
    """The source changed while it was being paged: start again from the stored cursor."""


class Provider(Protocol):
    name: str
    notice: str | None

    async def sync(self, connection: dict[str, Any], cursor: str | None) -> Page: ...


MERCHANTS: tuple[tuple[str, int, str | None], ...] = (
    # (counterparty, sign, reference); amounts come from the seed
    ("Blue Bottle Coffee", -1, None),
    ("Amazon Web Services", -1, "AWS-INV"),
    ("Stripe Payout", 1, "PO"),
    ("City Power & Light", -1, "ACCT 5531"),
    ("Office Depot", -1, None),
    ("Client Transfer", 1, "INV"),
    ("Bank Fee", -1, "FEE"),
    ("Uber Trip", -1, None),
)


class Sandbox:
    name = "sandbox"
    notice: str | None = SANDBOX_NOTICE

    async def sync(self, connection: dict[str, Any], cursor: str | None) -> Page:
        options = connection.get("sandbox") or {}
        seed = options.get("seed") or "numbors"
        batch = int(options.get("batch") or 25)
        size = int(options.get("page_size") or 100)
        start = date.fromisoformat(options.get("start") or connection["created_at"][:10])
        delivered, offset = _position(cursor)
        changes: list[tuple[str, Entry]] = []
        if delivered:
            pending = transaction(seed, start, delivered - 1, pending=True)
            changes.append(("removed", pending))
            changes.append(("added", transaction(seed, start, delivered - 1, pending=False)))
        for n in range(delivered, delivered + batch):
            changes.append(
                ("added", transaction(seed, start, n, pending=n == delivered + batch - 1))
            )
        chunk = changes[offset : offset + size]
        more = offset + size < len(changes)
        return Page(
            added=[e for kind, e in chunk if kind == "added"],
            removed=[e.key for kind, e in chunk if kind == "removed"],
            next_cursor=f"{delivered}+{offset + size}" if more else str(delivered + batch),
            has_more=more,
        )


def _position(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    delivered, _, offset = cursor.partition("+")
    return int(delivered), int(offset or 0)


def transaction(seed: str, start: date, n: int, *, pending: bool) -> Entry:
    """The sandbox's n-th transaction (pending or as posted), a pure function of its seed."""
    digest = hashlib.sha256(f"{seed}:{n}".encode()).digest()
    counterparty, sign, ref = MERCHANTS[digest[0] % len(MERCHANTS)]
    cents = 100 + int.from_bytes(digest[1:4], "big") % (250_000 if sign > 0 else 60_000)
    day = start + timedelta(days=n // 3)
    key = f"sandbox:{seed}:{n}"
    return Entry(
        key=f"{key}:pending" if pending else key,
        date=day.isoformat(),
        amount=Decimal(sign * cents) / 100,
        description=f"{counterparty} {ref or ''} {n:05d}".replace("  ", " ").strip(),
        counterparty=counterparty,
        reference=f"{ref}-{n:05d}" if ref else None,
        pending=pending,
        pending_ref=f"{key}:pending" if pending else None,
        replaces=None if pending else f"{key}:pending",
    )


PROVIDERS: dict[str, Provider] = {"sandbox": Sandbox()}


def provider_for(connection: dict[str, Any]) -> Provider:
    return PROVIDERS[connection["provider"]]
