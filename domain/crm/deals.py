"""Deals: a contact, a value in a currency, a pipeline and one of its stages, an expected
close date and an owner (a member of the company).

Probability rules (against the drift users of other CRMs complain about):
- A deal's probability is its stage's, unless set by hand. Sending a probability that
  differs from the current one sets it by hand (`probability_manual` true); a hand-set
  probability survives every other edit, stage moves included; sending `probability: null`
  goes back to the stage's. Echoing the current value changes nothing (PUT takes what GET
  gave).
- `win` puts the deal in the pipeline's won stage at 100; `lose` in the lost stage at 0 and
  needs a reason. `reopen` puts it back in the open stage it was closed from (or the one
  named) with the stage's probability, or with the hand-set one if it had one: never a
  leftover such as 91.67.
- Closed deals keep their stage and probability: editing a won or lost deal's other fields
  never recomputes them; moving its stage or probability is a 409 (reopen it first). A deal
  is moved to the won or lost stage only through `win` and `lose`.
- Every stage the deal enters is kept in `stage_history` with the time it entered and left.

Amounts: `value` in the deal's currency (default: the company's base currency), stored in
minor units; `value_base` at the currency's rate when the value or currency was last set.

Every write keeps the forecast's running totals (`cells.py`) in the same transaction. A
deal that a proposal, a contract or a converted lead refers to cannot be deleted (409
`deal_in_use`): lose it instead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.crm import cells
from domain.crm.pipelines import default_pipeline
from domain.currencies import base_currency, rate_of
from domain.errors import Conflict, Invalid
from domain.fields import Amount, CurrencyCode, Day, Input, LongText, Name, ObjectIdStr, StrictInt
from domain.money import convert_minor, normalise_rate, precision, to_minor, to_number
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, InDays, Lifecycle, Ref, Resource, Server
from memory.ids import today, utcnow
from memory.store import CollectionSpec, declare

Status = Literal["open", "won", "lost"]

declare(
    CollectionSpec(
        "crm_deals",
        fields=(
            "company_id",
            "status",
            "pipeline_id",
            "stage_id",
            "owner_id",
            "contact_id",
            "campaign_id",
            "lead_id",
            "name",
            "value",
            "probability",
            "expected_close_at",
            "created_at",
            "updated_at",
        ),
        indexes=(
            ("company_id", "status"),
            ("company_id", "pipeline_id"),
            ("company_id", "stage_id"),
            ("company_id", "owner_id"),
            ("company_id", "contact_id"),
            ("company_id", "campaign_id", "status", "value_base"),
            ("company_id", "lead_id"),
            ("company_id", "name"),
            ("company_id", "value"),
            ("company_id", "probability"),
            ("company_id", "expected_close_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
            # covers the forecast: every figure its grouped sum reads comes from the index
            (
                "company_id",
                "status",
                "expected_close_at",
                "pipeline_id",
                "owner_id",
                "close_month",
                "probability",
                "value_base",
            ),
        ),
    )
)


class StageVisit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage_id: str
    stage_name: str
    probability: int
    entered_at: str
    left_at: str | None = None


class DealFields(Declared):
    name: Name
    contact_id: ObjectIdStr
    value: Amount = Field(Decimal(0), ge=0, description="In the deal's currency")
    currency: CurrencyCode | None = Field(None, description="Default: the base currency")
    pipeline_id: ObjectIdStr | None = Field(None, description="Default: the default pipeline")
    stage_id: ObjectIdStr | None = Field(
        None, description="An open stage of the pipeline; default: its first"
    )
    probability: StrictInt | None = Field(
        None,
        ge=0,
        le=100,
        description="Whole percent. Default: the stage's; a different value sets it by hand "
        "(it then survives other edits); null goes back to the stage's",
    )
    expected_close_at: Day | None = None
    owner_id: ObjectIdStr | None = Field(None, description="A member; default: the creator")
    campaign_id: ObjectIdStr | None = None
    notes: LongText | None = None
    status: Server[Status] = Field("open", description="Through the actions win, lose, reopen")
    contact_name: Server[str]
    stage_name: Server[str]
    probability_manual: Server[bool]
    value_base: Server[float]
    base_currency: Server[str]
    lost_reason: Server[str | None] = None
    closed_at: Server[str | None] = Field(None, description="When it was won or lost")
    lead_id: Server[str | None] = Field(None, description="The lead it was converted from")
    stage_history: Server[list[StageVisit]]


def _stage_of(pipeline: dict[str, Any], stage_id: str) -> dict[str, Any] | None:
    return next((s for s in pipeline["stages"] if s["id"] == stage_id), None)


def _outcome_stage(pipeline: dict[str, Any], outcome: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["outcome"] == outcome)


async def _pipeline(ctx: Ctx, pipeline_id: str | None) -> dict[str, Any]:
    if pipeline_id is None:
        return await default_pipeline(ctx)
    return await referenced(ctx, "crm_pipelines", pipeline_id, "pipeline_id", "pipeline")


def _open_stage(pipeline: dict[str, Any], stage_id: str | None) -> dict[str, Any]:
    if stage_id is None:
        return next(s for s in pipeline["stages"] if s["outcome"] == "open")
    stage = _stage_of(pipeline, stage_id)
    if stage is None:
        raise Invalid(
            f"stage_id: {stage_id} is no stage of pipeline {pipeline['name']!r}",
            code="invalid_reference",
            details=[{"field": "stage_id", "message": "not a stage of the pipeline"}],
        )
    if stage["outcome"] != "open":
        verb = "win" if stage["outcome"] == "won" else "lose"
        raise Invalid(
            f"stage_id: {stage['name']!r} is the {stage['outcome']} stage; a deal gets there "
            f"through the {verb} action",
            details=[{"field": "stage_id", "message": f"use the {verb} action"}],
        )
    return stage


async def owner_checked(ctx: Ctx, owner_id: str | None, field: str = "owner_id") -> str:
    if owner_id is None:
        return ctx.user_id
    member = await ctx.store.find_one("memberships", ctx.scope(user_id=owner_id))
    if member is None:
        raise Invalid(
            f"{field}: user {owner_id} is not a member of this company",
            code="invalid_reference",
            details=[{"field": field, "message": "not a member"}],
        )
    return owner_id


async def _money(ctx: Ctx, value: Any, currency: str | None) -> dict[str, Any]:
    base = await base_currency(ctx)
    code = currency or base
    rate = await rate_of(ctx, code)
    places = precision(code)
    minor = to_minor(Decimal(str(value)), places)
    return {
        "value": minor,
        "currency": code,
        "precision": places,
        "rate": str(normalise_rate(rate)),
        "base_currency": base,
        "base_precision": precision(base),
        "value_base": convert_minor(minor, rate, places, precision(base)),
    }


def _visit(stage: dict[str, Any], at: str) -> dict[str, Any]:
    return {
        "stage_id": stage["id"],
        "stage_name": stage["name"],
        "probability": stage["probability"],
        "entered_at": at,
        "left_at": None,
    }


def _moved(history: list[dict[str, Any]], stage: dict[str, Any], at: str) -> list[dict[str, Any]]:
    closed = [{**v, "left_at": v["left_at"] or at} for v in history]
    return [*closed, _visit(stage, at)]


def _close_month(day: Any) -> str | None:
    return str(day)[:7] if day else None


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    contact = await referenced(ctx, "contacts", data["contact_id"], "contact_id", "contact")
    pipeline = await _pipeline(ctx, data.get("pipeline_id"))
    stage = _open_stage(pipeline, data.get("stage_id"))
    if data.get("campaign_id"):
        await referenced(ctx, "crm_campaigns", data["campaign_id"], "campaign_id", "campaign")
    manual = data.get("probability") is not None
    now = utcnow()
    close = str(data["expected_close_at"]) if data.get("expected_close_at") else None
    return {
        "name": data["name"],
        "contact_id": contact["_id"],
        "contact_name": contact["name"],
        **await _money(ctx, data.get("value", 0), data.get("currency")),
        "pipeline_id": pipeline["_id"],
        "stage_id": stage["id"],
        "stage_name": stage["name"],
        "probability": int(data["probability"]) if manual else stage["probability"],
        "probability_manual": manual,
        "hand_probability": int(data["probability"]) if manual else None,
        "expected_close_at": close,
        "close_month": _close_month(close),
        "owner_id": await owner_checked(ctx, data.get("owner_id")),
        "campaign_id": data.get("campaign_id"),
        "lead_id": data.get("lead_id"),
        "status": "open",
        "stage_history": [_visit(stage, now)],
        **({"notes": data["notes"]} if data.get("notes") else {}),
    }


def _closed(existing: dict[str, Any], what: str) -> Conflict:
    return Conflict(
        f"{what} cannot change while the deal is {existing['status']}: reopen it first",
        code="deal_closed",
        details=[{"field": what, "state": existing["status"], "allowed_actions": ["reopen"]}],
    )


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    out = {k: v for k, v in changes.items() if k not in ("pipeline_id", "stage_id", "probability")}
    is_open = existing["status"] == "open"
    if "contact_id" in changes and changes["contact_id"] != existing["contact_id"]:
        contact = await referenced(ctx, "contacts", changes["contact_id"], "contact_id", "contact")
        out["contact_name"] = contact["name"]
    if "value" in changes or "currency" in changes:
        value = changes.get("value")
        if value is None:
            value = Decimal(existing["value"]).scaleb(-existing["precision"])
        out.update(await _money(ctx, value, changes.get("currency") or existing["currency"]))
    if "owner_id" in changes:
        out["owner_id"] = await owner_checked(ctx, changes["owner_id"])
    if changes.get("campaign_id"):
        await referenced(ctx, "crm_campaigns", changes["campaign_id"], "campaign_id", "campaign")
    if "expected_close_at" in changes:
        close = str(changes["expected_close_at"]) if changes["expected_close_at"] else None
        out["expected_close_at"] = close
        out["close_month"] = _close_month(close)
    pipeline_id = changes.get("pipeline_id") or existing["pipeline_id"]
    stage_id = changes.get("stage_id")
    if pipeline_id != existing["pipeline_id"] or (stage_id and stage_id != existing["stage_id"]):
        if not is_open:
            raise _closed(existing, "stage_id")
        pipeline = await _pipeline(ctx, pipeline_id)
        if pipeline_id != existing["pipeline_id"] and stage_id == existing["stage_id"]:
            stage_id = None
        stage = _open_stage(pipeline, stage_id)
        out.update(
            pipeline_id=pipeline["_id"],
            stage_id=stage["id"],
            stage_name=stage["name"],
            stage_history=_moved(existing["stage_history"], stage, utcnow()),
        )
        if not existing["probability_manual"]:
            out["probability"] = stage["probability"]
    if "probability" in changes:
        wanted = changes["probability"]
        if wanted is None or wanted != existing["probability"]:
            if not is_open:
                raise _closed(existing, "probability")
            if wanted is None:
                stage_prob = out.get("probability")
                if stage_prob is None or existing["probability_manual"]:
                    pipeline = await _pipeline(ctx, out.get("pipeline_id", pipeline_id))
                    stage_prob = _stage_of(pipeline, out.get("stage_id", existing["stage_id"]))[
                        "probability"
                    ]
                out.update(probability=stage_prob, probability_manual=False, hand_probability=None)
            else:
                out.update(
                    probability=int(wanted), probability_manual=True, hand_probability=int(wanted)
                )
    await cells.move(ctx, existing, {**existing, **out})
    return out


async def _after_create(ctx: Ctx, deal: dict[str, Any]) -> None:
    await cells.add(ctx, deal)


LINKED = (("proposals", "proposal"), ("contracts", "contract"), ("crm_leads", "lead"))


async def _before_delete(ctx: Ctx, deal: dict[str, Any]) -> None:
    """A deal that a proposal, a contract or a converted lead refers to is kept."""
    for collection, label in LINKED:
        held = await ctx.store.count(collection, ctx.scope(deal_id=deal["_id"]))
        if held:
            raise Conflict(
                f"{held} {label}(s) refer to this deal; it cannot be deleted (lose it instead)",
                code="deal_in_use",
                details=[{"referred_by": label, "count": held}],
            )
    await cells.add(ctx, deal, -1)


class WinIn(Input):
    closed_at: Day | None = Field(None, description="Default: today")


class LoseIn(Input):
    reason: Name = Field(description="Why the deal was lost (required)")
    closed_at: Day | None = Field(None, description="Default: today")


class ReopenIn(Input):
    stage_id: ObjectIdStr | None = Field(
        None, description="An open stage; default: the one it was closed from"
    )


async def close_deal(
    ctx: Ctx, deal: dict[str, Any], outcome: str, closed_at: Any, reason: str | None
) -> dict[str, Any]:
    """Win or lose `deal` (also when a proposal of it is accepted)."""
    pipeline = await _pipeline(ctx, deal["pipeline_id"])
    stage = _outcome_stage(pipeline, outcome)
    now = utcnow()
    moved = await ctx.store.update_one(
        "crm_deals",
        ctx.scope(_id=deal["_id"]),
        {
            "$set": {
                "status": outcome,
                "stage_id": stage["id"],
                "stage_name": stage["name"],
                "probability": 100 if outcome == "won" else 0,
                "lost_reason": reason,
                "closed_at": str(closed_at) if closed_at else today(),
                "stage_history": _moved(deal["stage_history"], stage, now),
                "updated_at": now,
            }
        },
    )
    assert moved is not None
    await cells.move(ctx, deal, moved)
    return moved


async def win(ctx: Ctx, deal: dict[str, Any], body: WinIn) -> dict[str, Any]:
    return await close_deal(ctx, deal, "won", body.closed_at, None)


async def lose(ctx: Ctx, deal: dict[str, Any], body: LoseIn) -> dict[str, Any]:
    return await close_deal(ctx, deal, "lost", body.closed_at, body.reason)


async def reopen(ctx: Ctx, deal: dict[str, Any], body: ReopenIn) -> dict[str, Any]:
    pipeline = await _pipeline(ctx, deal["pipeline_id"])
    stage_id = body.stage_id
    if stage_id is None:
        open_ids = {s["id"] for s in pipeline["stages"] if s["outcome"] == "open"}
        visited = [v["stage_id"] for v in deal["stage_history"] if v["stage_id"] in open_ids]
        stage_id = visited[-1] if visited else None
    stage = _open_stage(pipeline, stage_id)
    manual = deal.get("probability_manual") and deal.get("hand_probability") is not None
    now = utcnow()
    moved = await ctx.store.update_one(
        "crm_deals",
        ctx.scope(_id=deal["_id"]),
        {
            "$set": {
                "status": "open",
                "stage_id": stage["id"],
                "stage_name": stage["name"],
                "probability": deal["hand_probability"] if manual else stage["probability"],
                "stage_history": _moved(deal["stage_history"], stage, now),
                "updated_at": now,
            },
            "$unset": {"lost_reason": "", "closed_at": ""},
        },
    )
    assert moved is not None
    await cells.move(ctx, deal, moved)
    return moved


OPTIONAL = ("expected_close_at", "campaign_id", "lead_id", "notes", "lost_reason", "closed_at")


def present(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **dict.fromkeys(OPTIONAL),
        **doc,
        "value": to_number(doc["value"], doc["precision"]),
        "value_base": to_number(doc["value_base"], doc["base_precision"]),
    }


DEALS = Resource(
    name="crm/deals",
    label="deal",
    collection="crm_deals",
    module="crm",
    tag="CRM",
    fields=DealFields,
    search=("name", "contact_name"),
    filters={
        "status": "eq",
        "pipeline_id": "eq",
        "stage_id": "eq",
        "owner_id": "eq",
        "contact_id": "eq",
        "campaign_id": "eq",
        "lead_id": "eq",
    },
    sort=("name", "value", "probability", "expected_close_at", "created_at", "updated_at"),
    default_sort="-created_at",
    date_field="expected_close_at",
    hooks=Hooks(
        before_create=_before_create,
        before_update=_before_update,
        after_create=_after_create,
        before_delete=_before_delete,
    ),
    lifecycle=Lifecycle(states=("open", "won", "lost"), initial=("open",)),
    actions=(
        Action(
            "win",
            "Mark a deal won (its pipeline's won stage, probability 100)",
            run=win,
            input=WinIn,
            from_states=("open",),
            example={"closed_at": "2026-11-20"},
        ),
        Action(
            "lose",
            "Mark a deal lost, with a reason (the lost stage, probability 0)",
            run=lose,
            input=LoseIn,
            from_states=("open",),
            example={"reason": "Chose a competitor", "closed_at": "2026-11-20"},
        ),
        Action(
            "reopen",
            "Reopen a won or lost deal",
            run=reopen,
            input=ReopenIn,
            from_states=("won", "lost"),
            example={"stage_id": None},
            description="Back to the open stage it was closed from (or the one named), with "
            "that stage's probability, or the hand-set one if it had one.",
        ),
    ),
    present=present,
    example={
        "name": "Acme website redesign",
        "contact_id": Ref("contacts", type="customer"),
        "value": 12000,
        "expected_close_at": InDays(13),
    },
)
