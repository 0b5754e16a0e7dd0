"""Campaigns: a channel, a budget (in the base currency), dates and a status. Leads (and
the deals converted from them) are attributed to a campaign by `campaign_id`.

A campaign's read shows its results, computed when it is read (two grouped sums for a
whole page, never stored so they cannot go stale): `leads`, `converted` (leads converted),
`won_deals` and `won_value` (deals of the campaign won, in the base currency),
`cost_per_lead` (budget / leads; null without leads) and `return_on_spend` (won value /
budget, e.g. 3.5 = 3.5 times the budget back; null with no budget).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Invalid
from domain.fields import Amount, Day, LongText, Name
from domain.money import from_minor, precision, round_half_up, to_minor, to_number
from domain.resources import Declared, Hooks, Resource, Server
from memory.store import CollectionSpec, declare

Channel = Literal["email", "social", "search", "events", "referral", "content", "other"]

declare(
    CollectionSpec(
        "crm_campaigns",
        fields=(
            "company_id",
            "name",
            "channel",
            "status",
            "budget",
            "starts_at",
            "created_at",
            "updated_at",
        ),
        indexes=(
            ("company_id", "name"),
            ("company_id", "channel"),
            ("company_id", "status"),
            ("company_id", "budget"),
            ("company_id", "starts_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class CampaignFields(Declared):
    name: Name
    channel: Channel = "other"
    budget: Amount = Field(Decimal(0), ge=0, description="In the base currency")
    starts_at: Day
    ends_at: Day | None = None
    status: Literal["planned", "active", "paused", "completed"] = "planned"
    description: LongText | None = None
    currency: Server[str]
    leads: Server[int]
    converted: Server[int]
    won_deals: Server[int]
    won_value: Server[float]
    cost_per_lead: Server[float | None] = None
    return_on_spend: Server[float | None] = None

    @model_validator(mode="after")
    def _dates(self) -> CampaignFields:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at must be on or after starts_at")
        return self


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    base = await base_currency(ctx)
    places = precision(base)
    return {
        **data,
        "starts_at": str(data["starts_at"]),
        "ends_at": str(data["ends_at"]) if data.get("ends_at") else None,
        "budget": to_minor(Decimal(str(data.get("budget", 0))), places),
        "currency": base,
        "precision": places,
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    out = dict(changes)
    if "budget" in changes and changes["budget"] is not None:
        out["budget"] = to_minor(Decimal(str(changes["budget"])), existing["precision"])
    for day in ("starts_at", "ends_at"):
        if changes.get(day) is not None:
            out[day] = str(changes[day])
    starts, ends = (
        out.get("starts_at", existing["starts_at"]),
        out.get("ends_at", existing.get("ends_at")),
    )
    if "ends_at" in changes and changes["ends_at"] is None:
        ends = None
    if ends is not None and ends < starts:
        raise Invalid(
            "ends_at must be on or after starts_at",
            details=[{"field": "ends_at", "message": "before starts_at"}],
        )
    return out


async def _results(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [d["_id"] for d in docs]
    if not ids:
        return docs
    leads = await ctx.store.sum_by(
        "crm_leads", ctx.scope(campaign_id={"$in": ids}), ("campaign_id", "status"), ()
    )
    won = await ctx.store.sum_by(
        "crm_deals",
        ctx.scope(campaign_id={"$in": ids}, status="won"),
        ("campaign_id",),
        ("value_base",),
    )
    counted: dict[str, list[int]] = {}
    for row in leads:
        entry = counted.setdefault(row["campaign_id"], [0, 0])
        entry[0] += int(row["count"])
        if row["status"] == "converted":
            entry[1] += int(row["count"])
    value = {row["campaign_id"]: (int(row["count"]), int(row["value_base"] or 0)) for row in won}
    out = []
    for doc in docs:
        places = doc["precision"]
        total, converted = counted.get(doc["_id"], [0, 0])
        deals, won_minor = value.get(doc["_id"], (0, 0))
        budget = from_minor(doc["budget"], places)
        won_amount = from_minor(won_minor, places)
        out.append(
            {
                **doc,
                "leads": total,
                "converted": converted,
                "won_deals": deals,
                "won_value": won_minor,
                "cost_per_lead": float(round_half_up(budget / total, places)) if total else None,
                "return_on_spend": (
                    float(round_half_up(won_amount / budget, 4)) if budget else None
                ),
            }
        )
    return out


def present(doc: dict[str, Any]) -> dict[str, Any]:
    places = doc["precision"]
    return {
        "ends_at": None,
        "description": None,
        **doc,
        "budget": to_number(doc["budget"], places),
        "won_value": to_number(doc.get("won_value", 0), places),
    }


CAMPAIGNS = Resource(
    name="crm/campaigns",
    label="campaign",
    collection="crm_campaigns",
    module="crm",
    tag="CRM",
    fields=CampaignFields,
    search=("name",),
    filters={"channel": "eq", "status": "eq"},
    sort=("name", "budget", "starts_at", "created_at", "updated_at"),
    default_sort="-starts_at",
    date_field="starts_at",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    enrich=_results,
    present=present,
    example={
        "name": "Autumn webinar series",
        "channel": "events",
        "budget": 2500,
        "starts_at": "2026-10-01",
        "ends_at": "2026-11-30",
        "status": "active",
    },
)
