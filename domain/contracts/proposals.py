"""Proposals: to a customer (and a deal), with lines, prices and taxes (the documents'
totals code), valid until a date, numbered PRO-00001 on.

Lifecycle: draft -> sent -> accepted or declined. `expired` is computed, not stored: a
draft or sent proposal past `valid_until` reads (and filters, `status=expired`) as
expired, and cannot be sent or accepted until its date is moved (it stays editable).

**Accept** (one transaction): records the acceptance (its date must be on or before
`valid_until`), creates the contract (party: the proposal's contact; value: the proposal's
total in its currency; title, start, end and renewal from the request, the start defaulting
to the acceptance date; signed by `signer` when given), optionally an approved estimate or a
draft invoice with the same lines (`create`), and moves the proposal's deal to won when it
is open (a deal already won or lost is left as it is). An accepted proposal is immutable:
no edit (409 `proposal_locked`), no delete; it links to what it created.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain import resources
from domain.context import Ctx
from domain.contracts.contracts import CONTRACTS, Renewal
from domain.crm.deals import close_deal
from domain.documents import lines as doc_lines
from domain.documents.documents import DOCUMENTS, compose
from domain.documents.estimates import ESTIMATES
from domain.documents.forms import ContentFields
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, Name, ObjectIdStr
from domain.references import referenced
from domain.resources import Action, Hooks, InDays, Lifecycle, Ref, Resource, Server, Shown
from memory.ids import today, utcnow
from memory.store import CollectionSpec, declare

Status = Literal["draft", "sent", "accepted", "declined", "expired"]
CONTENT = ("contact_id", "issued_at", "valid_until", "currency", "rate", "category_id", "lines")
PREFIX = "PRO-"
INVOICE_TERM_DAYS = 30

declare(
    CollectionSpec(
        "proposals",
        fields=("company_id", "status", "number", "contact_id", "issued_at", "created_at"),
        indexes=(
            ("company_id", "status", "valid_until"),
            ("company_id", "contact_id"),
            ("company_id", "deal_id"),
            ("company_id", "number"),
            ("company_id", "title"),
            ("company_id", "total"),
            ("company_id", "issued_at"),
            ("company_id", "valid_until"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "number"),),
    )
)


class ProposalFields(ContentFields):
    title: Name
    valid_until: Day
    deal_id: ObjectIdStr | None = None
    status: Annotated[Literal["draft", "sent"], Shown(Status)] = Field(
        "draft", description="Created draft or sent; then send, accept, decline"
    )
    number: Server[str]
    accepted_at: Server[str | None] = None
    declined_at: Server[str | None] = None
    decline_reason: Server[str | None] = None
    contract_id: Server[str | None] = Field(None, description="The contract accepting made")
    estimate_id: Server[str | None] = None
    invoice_id: Server[str | None] = None

    @model_validator(mode="after")
    def _dates(self) -> ProposalFields:
        if self.valid_until < self.issued_at:
            raise ValueError("valid_until must be on or after issued_at")
        return self


async def _compose(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await referenced(ctx, "contacts", data["contact_id"], "contact_id", "contact", type="customer")
    if str(data["valid_until"]) < str(data["issued_at"]):
        raise Invalid(
            "valid_until must be on or after issued_at",
            details=[{"field": "valid_until", "message": "before issued_at"}],
        )
    doc = await compose(ctx, "estimate", {**data, "due_at": data["valid_until"]})
    doc["valid_until"] = doc.pop("due_at")
    return doc


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("deal_id"):
        await referenced(ctx, "crm_deals", data["deal_id"], "deal_id", "deal")
    doc = await _compose(ctx, data)
    number = await ctx.store.next_value(f"{ctx.company_id}:proposal")
    if data.get("status") == "sent" and doc["valid_until"] < today():
        raise _expired(doc["valid_until"], "sent")
    return {
        "title": data["title"],
        "number": f"{PREFIX}{number:05d}",
        "status": data.get("status", "draft"),
        "deal_id": data.get("deal_id"),
        **doc,
        **{k: data[k] for k in ("reference", "notes") if data.get(k)},
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if changes.get("deal_id"):
        await referenced(ctx, "crm_deals", changes["deal_id"], "deal_id", "deal")
    content = {k: v for k, v in changes.items() if k in CONTENT}
    if content:
        merged = {**{k: existing[k] for k in CONTENT if k in existing}, **content}
        if "lines" not in content:
            merged["lines"] = [doc_lines.as_input(line) for line in existing["lines"]]
        changes = {**changes, **await _compose(ctx, merged)}
    return changes


def _expired(valid_until: str, what: str) -> Conflict:
    return Conflict(
        f"the proposal expired on {valid_until}: move valid_until before it is {what}",
        code="proposal_expired",
        details=[{"field": "valid_until", "state": "expired"}],
    )


async def _entering_sent(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    if doc["valid_until"] < today():
        raise _expired(doc["valid_until"], "sent")


async def _keep_accepted(ctx: Ctx, doc: dict[str, Any]) -> None:
    if doc["status"] == "accepted":
        raise Conflict(
            "an accepted proposal is the record behind its contract; it cannot be deleted",
            code="proposal_locked",
        )


class AcceptIn(Input):
    accepted_at: Day | None = Field(None, description="Default: today")
    signer: Name | None = Field(None, description="Who accepted; signs the contract")
    create: Literal["none", "estimate", "invoice"] = Field(
        "none", description="Also create an approved estimate or a draft invoice"
    )
    contract_title: Name | None = Field(None, description="Default: the proposal's title")
    starts_at: Day | None = Field(None, description="Contract start; default: accepted_at")
    ends_at: Day | None = None
    renewal: Renewal | None = None


class DeclineIn(Input):
    reason: Name | None = None


async def accept(ctx: Ctx, proposal: dict[str, Any], body: AcceptIn) -> dict[str, Any]:
    accepted = body.accepted_at.isoformat() if body.accepted_at else today()
    if accepted > proposal["valid_until"]:
        raise _expired(proposal["valid_until"], "accepted")
    if accepted < proposal["issued_at"]:
        raise Invalid(
            "accepted_at: a proposal is accepted on or after its issue date",
            details=[{"field": "accepted_at", "message": "before issued_at"}],
        )
    contract = await resources.insert(
        ctx,
        CONTRACTS,
        {
            "party_id": proposal["contact_id"],
            "title": body.contract_title or proposal["title"],
            "value": doc_lines.present_amounts(proposal)["total"],
            "currency": proposal["currency"],
            "starts_at": body.starts_at.isoformat() if body.starts_at else accepted,
            "ends_at": body.ends_at.isoformat() if body.ends_at else None,
            "renewal": body.renewal.model_dump() if body.renewal else None,
            "deal_id": proposal.get("deal_id"),
            "proposal_id": proposal["_id"],
        },
    )
    if body.signer:
        contract = (
            await ctx.store.update_one(
                "contracts",
                ctx.scope(_id=contract["_id"]),
                {"$set": {"signed": True, "signed_by": body.signer, "signed_at": accepted}},
            )
            or contract
        )
    links: dict[str, Any] = {"contract_id": contract["_id"]}
    content = {
        "contact_id": proposal["contact_id"],
        "currency": proposal["currency"],
        "rate": proposal["rate"],
        "category_id": proposal.get("category_id"),
        "reference": proposal["number"],
        "lines": [doc_lines.as_input(line) for line in proposal["lines"]],
    }
    if body.create == "estimate":
        estimate = await resources.insert(
            ctx,
            ESTIMATES,
            {**content, "issued_at": accepted, "expires_at": proposal["valid_until"]},
        )
        estimate = await resources.transition(ctx, ESTIMATES, estimate, "approved")
        links["estimate_id"] = estimate["_id"]
    elif body.create == "invoice":
        due = (date.fromisoformat(accepted) + timedelta(days=INVOICE_TERM_DAYS)).isoformat()
        invoice = await resources.insert(
            ctx,
            DOCUMENTS,
            {**content, "type": "invoice", "status": "draft", "issued_at": accepted, "due_at": due},
        )
        links["invoice_id"] = invoice["_id"]
    if proposal.get("deal_id"):
        deal = await ctx.store.find_one("crm_deals", ctx.scope(_id=proposal["deal_id"]))
        if deal is not None and deal["status"] == "open":
            await close_deal(ctx, deal, "won", accepted, None)
    updated = await ctx.store.update_one(
        "proposals",
        ctx.scope(_id=proposal["_id"]),
        {"$set": {"status": "accepted", "accepted_at": accepted, **links, "updated_at": utcnow()}},
    )
    assert updated is not None
    return updated


async def decline(ctx: Ctx, proposal: dict[str, Any], body: DeclineIn) -> dict[str, Any]:
    updated = await ctx.store.update_one(
        "proposals",
        ctx.scope(_id=proposal["_id"]),
        {
            "$set": {
                "status": "declined",
                "declined_at": today(),
                "decline_reason": body.reason,
                "updated_at": utcnow(),
            }
        },
    )
    assert updated is not None
    return updated


OPTIONAL = (
    "deal_id",
    "accepted_at",
    "declined_at",
    "decline_reason",
    "contract_id",
    "estimate_id",
    "invoice_id",
)


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = {**dict.fromkeys(OPTIONAL), **doc_lines.present_amounts(doc)}
    if doc["status"] in ("draft", "sent") and doc["valid_until"] < today():
        out["status"] = "expired"
    return out


def rewrite_status(filters: dict[str, Any]) -> dict[str, Any]:
    status = filters.get("status")
    if status == "expired":
        return {
            **filters,
            "status": {"$in": ["draft", "sent"]},
            "valid_until": {"$lt": today()},
        }
    if status in ("draft", "sent"):
        return {**filters, "valid_until": {"$gte": today()}}
    return filters


PROPOSALS = Resource(
    name="contracts/proposals",
    label="proposal",
    collection="proposals",
    module="contracts",
    tag="Contracts & Proposals",
    fields=ProposalFields,
    search=("number", "title", "contact_name"),
    filters={"status": "eq", "contact_id": "eq", "deal_id": "eq"},
    sort=("number", "title", "issued_at", "valid_until", "total", "created_at", "updated_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_keep_accepted
    ),
    lifecycle=Lifecycle(
        states=("draft", "sent", "accepted", "declined"),
        initial=("draft", "sent"),
        editable_in=("draft", "sent"),
        locked_code="proposal_locked",
        on_enter={"sent": _entering_sent},
    ),
    actions=(
        Action("send", "Send a proposal", from_states=("draft",), to="sent"),
        Action(
            "accept",
            "Accept a proposal: it becomes a contract",
            run=accept,
            input=AcceptIn,
            from_states=("draft", "sent"),
            example={
                "accepted_at": "2026-11-10",
                "signer": "Dana Reyes",
                "create": "estimate",
                "ends_at": InDays(342),
            },
            description="Creates the contract (and, by option, an approved estimate or a "
            "draft invoice with the same lines), moves the deal to won; the proposal becomes "
            "accepted and immutable, with links to what it made.",
        ),
        Action(
            "decline",
            "Record a proposal's refusal",
            run=decline,
            input=DeclineIn,
            from_states=("draft", "sent"),
            example={"reason": "Went with another vendor"},
        ),
    ),
    present=present,
    rewrite_filters=rewrite_status,
    example={
        "title": "Website redesign",
        "contact_id": Ref("contacts", type="customer"),
        "issued_at": "2026-11-02",
        "valid_until": "2099-12-31",
        "lines": [{"name": "Design and build", "quantity": 1, "price": 4800}],
    },
)
