"""Leads: a person or a company, how to reach them, where they came from (source,
campaign), a status and a score.

- A second lead with an email another lead of the company already has is accepted and
  flagged: `duplicate_of` names the first lead with that email (web forms submit twice; a
  409 would lose the second submission). Filter `duplicate_of=<id>` lists the duplicates
  of a lead.
- Status: new -> contacted -> qualified, or disqualified (and back to new with `reopen`);
  `convert` from new, contacted or qualified. A converted lead is kept, with its links
  (`contact_id`, `deal_id`, `converted_at`); only its notes change after that, and it
  cannot be deleted.
- **Convert** (in one transaction): the contact is the existing contact with the lead's
  email (any type, the oldest first) or a new one: never a second contact for an email
  (contacts are unique per type and email, and the lookup runs in the conversion's write
  transaction). The deal is the existing deal named by `deal_id` (it must be open; it
  keeps its own contact and figures and gets the lead and campaign links when it has
  none), or a new deal for that contact (value, pipeline, stage, close date from the
  request; the default pipeline's first stage otherwise), or none with
  `create_deal: false`. A lead without an email gets a new contact (nothing to match on).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from domain import resources
from domain.contacts import CONTACTS
from domain.context import Ctx
from domain.crm.deals import DEALS, owner_checked
from domain.errors import Conflict
from domain.fields import (
    Amount,
    CurrencyCode,
    Day,
    Email,
    Input,
    LongText,
    Name,
    ObjectIdStr,
    ShortText,
    StrictBool,
    StrictInt,
)
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, InDays, Lifecycle, Resource, Server, Shown
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

Status = Literal["new", "contacted", "qualified", "disqualified", "converted"]
OPEN = ("new", "contacted", "qualified")

declare(
    CollectionSpec(
        "crm_leads",
        fields=(
            "company_id",
            "status",
            "email",
            "campaign_id",
            "owner_id",
            "duplicate_of",
            "name",
            "score",
            "created_at",
            "updated_at",
        ),
        indexes=(
            ("company_id", "status"),
            ("company_id", "email", "created_at"),
            ("company_id", "campaign_id", "status"),
            ("company_id", "owner_id"),
            ("company_id", "duplicate_of"),
            ("company_id", "deal_id"),
            ("company_id", "contact_id"),
            ("company_id", "source"),
            ("company_id", "kind"),
            ("company_id", "name"),
            ("company_id", "score"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class LeadFields(Declared):
    kind: Literal["person", "company"] = "person"
    name: Name = Field(description="The person's or the company's name")
    company_name: ShortText | None = Field(None, description="A person's organisation")
    email: Email | None = None
    phone: ShortText | None = None
    source: ShortText | None = Field(None, description="web, referral, event...")
    campaign_id: ObjectIdStr | None = None
    status: Annotated[Literal["new", "contacted", "qualified", "disqualified"], Shown(Status)] = (
        Field("new", description="Created new, contacted or qualified; converted by convert")
    )
    score: StrictInt = Field(0, ge=0, le=100)
    owner_id: ObjectIdStr | None = Field(None, description="A member; default: the creator")
    notes: LongText | None = None
    duplicate_of: Server[str | None] = Field(None, description="The first lead with this email")
    contact_id: Server[str | None] = Field(None, description="Set by convert")
    deal_id: Server[str | None] = Field(None, description="Set by convert")
    converted_at: Server[str | None] = None


async def _first_with_email(ctx: Ctx, email: str | None, other_than: str | None) -> str | None:
    if not email:
        return None
    found = await ctx.store.find(
        "crm_leads", ctx.scope(email=email), sort=[("created_at", 1)], limit=2
    )
    first = next((lead for lead in found if lead["_id"] != other_than), None)
    return first["_id"] if first else None


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("campaign_id"):
        await referenced(ctx, "crm_campaigns", data["campaign_id"], "campaign_id", "campaign")
    return {
        **data,
        "owner_id": await owner_checked(ctx, data.get("owner_id")),
        "duplicate_of": await _first_with_email(ctx, data.get("email"), None),
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    out = dict(changes)
    if changes.get("campaign_id"):
        await referenced(ctx, "crm_campaigns", changes["campaign_id"], "campaign_id", "campaign")
    if "owner_id" in changes:
        out["owner_id"] = await owner_checked(ctx, changes["owner_id"])
    if "email" in changes and changes["email"] != existing.get("email"):
        first = await _first_with_email(ctx, changes["email"], existing["_id"])
        out["duplicate_of"] = first if first and first < existing["_id"] else None
    return out


async def _keep_converted(ctx: Ctx, lead: dict[str, Any]) -> None:
    if lead["status"] == "converted":
        raise Conflict(
            "a converted lead is the record of where its contact and deal came from; it "
            "cannot be deleted",
            code="lead_converted",
        )


class ConvertIn(Input):
    deal_id: ObjectIdStr | None = Field(None, description="Attach to this open deal")
    create_deal: StrictBool = Field(True, description="Without deal_id: create a deal")
    deal_name: Name | None = Field(None, description="Default: the lead's name")
    value: Amount | None = Field(None, ge=0)
    currency: CurrencyCode | None = None
    pipeline_id: ObjectIdStr | None = None
    stage_id: ObjectIdStr | None = None
    expected_close_at: Day | None = None
    contact_type: Literal["customer", "other"] = Field(
        "customer", description="The type of a contact created by the conversion"
    )


async def _contact_for(ctx: Ctx, lead: dict[str, Any], kind: str) -> dict[str, Any]:
    email = lead.get("email")
    if email:
        found = await ctx.store.find_one(
            "contacts", ctx.scope(email=email), sort=[("created_at", 1)]
        )
        if found is not None:
            return found
    fields: dict[str, Any] = {"type": kind, "name": lead["name"], "enabled": True}
    for key in ("email", "phone"):
        if lead.get(key):
            fields[key] = lead[key]
    if lead["kind"] == "person" and lead.get("company_name"):
        fields["notes"] = f"Works at {lead['company_name']}"
    return await resources.insert(ctx, CONTACTS, fields)


async def _deal_for(
    ctx: Ctx, lead: dict[str, Any], contact: dict[str, Any], body: ConvertIn
) -> dict[str, Any] | None:
    if body.deal_id:
        deal = await referenced(ctx, "crm_deals", body.deal_id, "deal_id", "deal")
        if deal["status"] != "open":
            raise Conflict(
                f"deal {deal['_id']} is {deal['status']}: a lead converts into an open deal",
                code="deal_closed",
                details=[{"field": "deal_id", "state": deal["status"]}],
            )
        links = {
            k: v
            for k, v in (("lead_id", lead["_id"]), ("campaign_id", lead.get("campaign_id")))
            if v and not deal.get(k)
        }
        if links:
            deal = (
                await ctx.store.update_one(
                    "crm_deals",
                    ctx.scope(_id=deal["_id"]),
                    {"$set": {**links, "updated_at": utcnow()}},
                )
                or deal
            )
        return deal
    if not body.create_deal:
        return None
    fields: dict[str, Any] = {
        "name": body.deal_name or lead["name"],
        "contact_id": contact["_id"],
        "value": body.value if body.value is not None else Decimal(0),
        "currency": body.currency,
        "pipeline_id": body.pipeline_id,
        "stage_id": body.stage_id,
        "expected_close_at": body.expected_close_at,
        "owner_id": lead.get("owner_id"),
        "campaign_id": lead.get("campaign_id"),
        "lead_id": lead["_id"],
    }
    return await resources.insert(ctx, DEALS, fields)


async def convert(ctx: Ctx, lead: dict[str, Any], body: ConvertIn) -> dict[str, Any]:
    contact = await _contact_for(ctx, lead, body.contact_type)
    deal = await _deal_for(ctx, lead, contact, body)
    now = utcnow()
    converted = await ctx.store.update_one(
        "crm_leads",
        ctx.scope(_id=lead["_id"]),
        {
            "$set": {
                "status": "converted",
                "contact_id": contact["_id"],
                "deal_id": deal["_id"] if deal else None,
                "converted_at": now,
                "updated_at": now,
            }
        },
    )
    assert converted is not None
    return converted


def present(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **dict.fromkeys(("company_name", "email", "phone", "source", "campaign_id", "notes")),
        **doc,
    }


LEADS = Resource(
    name="crm/leads",
    label="lead",
    collection="crm_leads",
    module="crm",
    tag="CRM",
    fields=LeadFields,
    search=("name", "email", "company_name"),
    filters={
        "status": "eq",
        "kind": "eq",
        "source": "eq",
        "campaign_id": "eq",
        "owner_id": "eq",
        "duplicate_of": "eq",
        "email": "eq",
    },
    sort=("name", "score", "created_at", "updated_at"),
    default_sort="-created_at",
    date_field="created_at",
    hooks=Hooks(
        before_create=_before_create,
        before_update=_before_update,
        before_delete=_keep_converted,
    ),
    lifecycle=Lifecycle(
        states=("new", "contacted", "qualified", "disqualified", "converted"),
        initial=OPEN,
        editable_in=("new", "contacted", "qualified", "disqualified"),
        free=("notes",),
        locked_code="lead_converted",
    ),
    actions=(
        Action("mark-contacted", "Mark a lead contacted", from_states=("new",), to="contacted"),
        Action("qualify", "Qualify a lead", from_states=("new", "contacted"), to="qualified"),
        Action("disqualify", "Disqualify a lead", from_states=OPEN, to="disqualified"),
        Action("reopen", "Reopen a disqualified lead", from_states=("disqualified",), to="new"),
        Action(
            "convert",
            "Convert a lead into a contact and a deal",
            run=convert,
            input=ConvertIn,
            from_states=OPEN,
            example={"value": 8000, "expected_close_at": InDays(18)},
            description="Links the existing contact with the lead's email or creates one "
            "(never a duplicate), creates a deal or attaches to `deal_id`, and keeps the "
            "lead, converted, with its links.",
        ),
    ),
    present=present,
    example={
        "kind": "person",
        "name": "Dana Reyes",
        "company_name": "Reyes Logistics",
        "email": "dana@reyes-logistics.example",
        "source": "web",
        "score": 40,
    },
)
