"""Feed lines (`GET /api/banking/feeds`): what the bank says happened on an account, and what
the books made of it.

A line is imported by a sync or a statement upload (`sync.py`) or typed in by hand
(`POST /api/banking/feeds`, e.g. from a paper statement; key `manual:<id>`). Its amount is
signed in the account's currency (positive: money in). It is unique in its account by its
source key (a unique index on company, account and key), so no retry, re-upload or
concurrent sync ever adds it twice.

States: `new` (nothing found), `suggested` (open invoices or bills it may pay, best first),
`categorised` (a rule proposes a category), `reconciled` (its transactions are recorded),
`ignored`. Actions:

- `accept`: pay the document named (or the best suggestion; or, with none, record the rule's
  categorisation);
- `categorise`: record it as income or expense (category, contact, tax, splits), defaulting
  to the rule's proposal;
- `ignore`; `undo` (from reconciled: what was recorded is reversed; from ignored), after
  which the line is evaluated again;
- `apply-rules` (collection): evaluate every open line again against today's rules and open
  documents.

A pending line cannot be reconciled (409 line_pending); when it posts, the posted line
replaces it in place (same id, new key), never a second line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from domain.bankfeeds import reconcile, rules
from domain.bankfeeds.connections import connection
from domain.bankfeeds.matching import OpenDocuments
from domain.bankfeeds.reconcile import COLLECTION, OPEN_STATES
from domain.bankfeeds.rules import Split, check_splits
from domain.bankfeeds.statements import Entry
from domain.context import Ctx
from domain.errors import Conflict, DomainError, Invalid
from domain.fields import Amount, Day, Input, ObjectIdStr, Output, ShortText
from domain.money import to_minor, to_number
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, Lifecycle, Ref, Resource, Server, Shown
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

Status = Literal["new", "suggested", "categorised", "reconciled", "ignored"]
MAX = Decimal("1000000000000")

declare(
    CollectionSpec(
        COLLECTION,
        fields=(
            "company_id",
            "account_id",
            "connection_id",
            "source_key",
            "pending_ref",
            "status",
            "date",
            "amount",
            "created_at",
        ),
        indexes=(
            ("company_id", "status", "date"),
            ("company_id", "connection_id", "date"),
            ("company_id", "account_id", "date"),
            ("company_id", "account_id", "pending_ref"),
            ("company_id", "date"),
            ("company_id", "amount"),
            ("company_id", "created_at"),
        ),
        unique=(("company_id", "account_id", "source_key"),),
    )
)


class SuggestionOut(Output):
    type: Literal["invoice", "bill"]
    document_id: str
    number: str
    contact_name: str | None = None
    due: float
    due_at: str
    currency: str
    confidence: float = Field(description="0 to 1: amount 0.5, number 0.3, contact 0.15, date")
    reasons: list[str]


class CategorisationOut(Output):
    rule_id: str
    rule_name: str
    category_id: str | None = None
    contact_id: str | None = None
    tax_id: str | None = None
    splits: list[dict[str, Any]] = []
    auto_create: bool = False
    problem: str | None = Field(None, description="Why an auto-create rule did not record it")


class LineFields(Declared):
    connection_id: ObjectIdStr
    date: Day
    amount: Amount = Field(ge=-MAX, le=MAX, decimal_places=4, description="Positive: money in")
    description: ShortText = Field(min_length=1)
    counterparty: ShortText | None = None
    reference: ShortText | None = None
    account_id: Server[str]
    currency: Server[str]
    source: Server[str] = Field(description="file, sandbox or manual")
    pending: Server[bool] = False
    original_amount: Server[float | None] = None
    original_currency: Server[str | None] = None
    status: Annotated[Server[Literal["new"]], Shown(Status)] = "new"
    suggestions: Server[list[SuggestionOut]] = []
    categorisation: Server[CategorisationOut | None] = None
    transaction_ids: Server[list[str]] = []
    document_id: Server[str | None] = None
    reconciled_at: Server[str | None] = None


def build(
    conn: dict[str, Any], account: dict[str, Any], entry: Entry, job_id: str | None
) -> dict[str, Any]:
    """A new line's document (not yet evaluated) from a source's entry."""
    now = utcnow()
    places = account["precision"]
    line: dict[str, Any] = {
        "_id": new_id(),
        "company_id": conn["company_id"],
        "connection_id": conn["_id"],
        "account_id": account["_id"],
        "source": conn["provider"],
        "source_key": entry.key,
        "date": entry.date,
        "amount": to_minor(entry.amount, places),
        "precision": places,
        "currency": account["currency"],
        "description": entry.description[:200],
        "counterparty": (entry.counterparty or "")[:200] or None,
        "reference": (entry.reference or "")[:200] or None,
        "pending": entry.pending,
        "status": "new",
        "suggestions": [],
        "categorisation": None,
        "transaction_ids": [],
        "job_id": job_id,
        "created_at": now,
        "updated_at": now,
    }
    if entry.pending_ref:
        line["pending_ref"] = entry.pending_ref
    if entry.original_amount is not None:
        line["original_amount"] = str(entry.original_amount)
        line["original_currency"] = entry.original_currency
    return line


class Evaluator:
    """Rules and open documents read once, applied to many lines."""

    def __init__(self, compiled: list[rules.Compiled], docs: OpenDocuments):
        self.rules = compiled
        self.docs = docs

    @classmethod
    async def load(cls, ctx: Ctx) -> Evaluator:
        return cls(await rules.load(ctx), await OpenDocuments.load(ctx))

    def evaluate(self, line: dict[str, Any]) -> dict[str, Any]:
        """The line's suggestions, categorisation and status."""
        if line.get("pending"):
            return {"suggestions": [], "categorisation": None, "status": "new"}
        rule = rules.first_match(self.rules, line)
        categorisation = rules.proposal(rule) if rule else None
        suggestions = self.docs.suggest(line)
        status = "suggested" if suggestions else "categorised" if categorisation else "new"
        return {"suggestions": suggestions, "categorisation": categorisation, "status": status}

    async def settle(self, ctx: Ctx, line: dict[str, Any]) -> dict[str, Any]:
        """Evaluate the line and, when its rule auto-creates and no document is suggested,
        record its transactions: the fields to store (the line is written by the caller)."""
        changes = self.evaluate(line)
        proposal = changes["categorisation"]
        if proposal and proposal["auto_create"] and not changes["suggestions"]:
            contact = proposal["contact_id"]
            try:
                parts = await reconcile.plan(
                    ctx,
                    line,
                    proposal["category_id"],
                    contact,
                    proposal["splits"],
                    proposal.get("tax_id"),
                )
            except DomainError as error:
                # the rule cannot record this line (its fixed split does not fit the amount,
                # its category was disabled): it stays a proposal for a person to settle
                changes["categorisation"] = {**proposal, "problem": error.message}
                return changes
            ids = await reconcile.write(ctx, line, parts, contact)
            changes.update(
                status="reconciled",
                transaction_ids=ids,
                categorised_by=proposal["rule_id"],
                reconciled_at=utcnow(),
            )
        return changes


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    conn = await connection(ctx, data["connection_id"])
    account = await referenced(ctx, "accounts", conn["account_id"], "connection_id", "account")
    amount = Decimal(str(data["amount"]))
    if to_minor(amount, account["precision"]) == 0:
        raise Invalid(
            f"amount: a line moves money; it rounds to zero in {account['currency']}",
            code="amount_too_small",
            details=[{"field": "amount", "message": "not zero"}],
        )
    entry = Entry(
        key=f"manual:{new_id()}",
        date=str(data["date"]),
        amount=amount,
        description=data["description"],
        counterparty=data.get("counterparty"),
        reference=data.get("reference"),
    )
    line = build(conn, account, entry, None)
    line.update((await Evaluator.load(ctx)).evaluate(line))
    line["source"] = "manual"
    for stamp in ("_id", "company_id", "created_at", "updated_at"):
        line.pop(stamp)
    return line


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = {**doc, "amount": to_number(doc["amount"], doc["precision"])}
    if doc.get("original_amount") is not None:
        out["original_amount"] = float(doc["original_amount"])
    return out


# --- actions -------------------------------------------------------------------------------


class AcceptIn(Input):
    document_id: ObjectIdStr | None = Field(
        None,
        description="The invoice (money in) or bill (out) it pays; default: the best suggestion",
    )


class CategoriseIn(Input):
    category_id: ObjectIdStr | None = Field(
        None, description="Default: the rule's, else the default"
    )
    contact_id: ObjectIdStr | None = None
    tax_id: ObjectIdStr | None = Field(
        None, description="A tax carved out of the amount; default: the rule's"
    )
    splits: list[Split] | None = Field(None, max_length=20, description="Default: the rule's")


async def _accept(ctx: Ctx, line: dict[str, Any], body: AcceptIn | None) -> dict[str, Any]:
    document_id = body.document_id if body else None
    if document_id is None and line.get("suggestions"):
        document_id = line["suggestions"][0]["document_id"]
    if document_id is not None:
        return await reconcile.pay(ctx, line, document_id)
    proposal = line.get("categorisation")
    if proposal:
        return await reconcile.categorise(
            ctx,
            line,
            proposal["category_id"],
            proposal["contact_id"],
            proposal["splits"],
            proposal["rule_id"],
            proposal.get("tax_id"),
        )
    raise Conflict(
        "nothing to accept: this line has no suggestion; name a document_id or categorise it",
        code="nothing_to_accept",
    )


async def _categorise(ctx: Ctx, line: dict[str, Any], body: CategoriseIn | None) -> dict[str, Any]:
    body = body or CategoriseIn()
    proposal = line.get("categorisation") or {}
    if body.splits is not None:
        check_splits(body.splits)
    splits = (
        [s.model_dump(mode="json") for s in body.splits]
        if body.splits is not None
        else proposal.get("splits") or []
    )
    category = body.category_id or proposal.get("category_id")
    contact = body.contact_id or proposal.get("contact_id")
    tax = body.tax_id or proposal.get("tax_id")
    return await reconcile.categorise(
        ctx, line, category, contact, splits, proposal.get("rule_id"), tax
    )


async def _ignore(ctx: Ctx, line: dict[str, Any], body: Any) -> dict[str, Any]:
    return line


async def _undo(ctx: Ctx, line: dict[str, Any], body: Any) -> dict[str, Any]:
    await reconcile.undo(ctx, line)
    fresh = {**line, "transaction_ids": [], "document_id": None}
    changes = (await Evaluator.load(ctx)).evaluate(fresh)
    moved = await ctx.store.update_one(
        COLLECTION,
        ctx.scope(_id=line["_id"], status=line["status"]),
        {
            "$set": {**changes, "transaction_ids": [], "updated_at": utcnow()},
            "$unset": {
                "document_id": "",
                "document_status_before": "",
                "reconciled_at": "",
                "categorised_by": "",
            },
        },
    )
    if moved is None:
        raise Conflict("this line changed meanwhile; read it again", code="line_changed")
    return moved


class Applied(BaseModel):
    lines: int = Field(description="Open lines evaluated")
    new: int
    suggested: int
    categorised: int
    reconciled: int


async def apply_rules(ctx: Ctx, body: Any) -> dict[str, Any]:
    """Evaluate every open line again (rules, then suggestions; auto-create rules record)."""
    evaluator = await Evaluator.load(ctx)
    lines = await ctx.store.find(
        COLLECTION, ctx.scope(status={"$in": list(OPEN_STATES)}, pending=False)
    )
    counts = dict.fromkeys(("new", "suggested", "categorised", "reconciled"), 0)
    for line in lines:
        changes = await evaluator.settle(ctx, line)
        counts[changes["status"]] += 1
        await ctx.store.update_one(
            COLLECTION, ctx.scope(_id=line["_id"]), {"$set": {**changes, "updated_at": utcnow()}}
        )
    return {"lines": len(lines), **counts}


OPEN = OPEN_STATES
LINES = Resource(
    name="banking/feeds",
    label="bank feed line",
    collection=COLLECTION,
    module="banking",
    tag="Banking",
    fields=LineFields,
    search=("description", "counterparty", "reference"),
    filters={"status": "eq", "connection_id": "eq", "account_id": "eq"},
    sort=("date", "amount", "created_at"),
    default_sort="-date",
    date_field="date",
    operations=("list", "create", "get"),
    hooks=Hooks(before_create=_before_create),
    lifecycle=Lifecycle(states=("new", "suggested", "categorised", "reconciled", "ignored")),
    actions=(
        Action(
            "accept",
            "Accept a match (records the payment) or the rule's categorisation",
            run=_accept,
            input=AcceptIn,
            from_states=OPEN,
            example={"document_id": Ref("documents", type="invoice")},
        ),
        Action(
            "categorise",
            "Record the line as income or expense (category, contact, splits)",
            run=_categorise,
            input=CategoriseIn,
            from_states=OPEN,
            example={"category_id": Ref("categories", type="income")},
        ),
        Action("ignore", "Ignore the line", run=_ignore, from_states=OPEN, to="ignored"),
        Action(
            "undo",
            "Undo a reconciliation (reverses what it recorded) or an ignore",
            run=_undo,
            from_states=("reconciled", "ignored"),
        ),
        Action(
            "apply-rules",
            "Apply the rules and matching to every open line again",
            run=apply_rules,
            output=Applied,
            collection=True,
        ),
    ),
    present=present,
    example={
        "connection_id": Ref("banking/feeds/connections"),
        "date": "2026-11-20",
        "amount": 250.0,
        "description": "Transfer from Acme Ltd",
    },
)
