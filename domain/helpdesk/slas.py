"""SLA policies: ordered (`position`, lower first; then oldest), the first whose conditions
all hold applies to a ticket (`domain/helpdesk/sla.py` has the clock).

- Conditions: categories, priorities, channels, contacts; an empty list holds for all.
- Targets per priority: first response and resolution, in minutes (of working time when
  `business_hours`), the first at most the second. A priority without a target is not
  covered by the policy (the next one may cover it).
- Calendar: an IANA time zone, working windows per weekday (`HH:MM` to `HH:MM`, several a
  day for breaks, not overlapping), holidays (whole local days). At least one window.
- `pause_on`: the statuses that stop the clock (waiting on the customer, on hold).

Every new company starts with "Standard" (position 1000, Monday to Friday 09:00-17:00
UTC): urgent 30 min / 4 h, high 60 min / 8 h, medium 4 h / 24 h, low 8 h / 40 h.
Editing a policy applies from then on (new tickets, re-applied tickets); shown due times
of existing tickets do not move (`sla.py`).
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, model_validator

from domain.context import Ctx
from domain.fields import Day, Input, Name, ObjectIdStr, StrictBool, StrictInt
from domain.helpdesk.calendar import WEEKDAYS, parse_clock
from domain.helpdesk.common import MODULE, TAG, Channel, Priority
from domain.references import referenced
from domain.resources import CompanyStart, Declared, Hooks, InDays, Resource
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "helpdesk_slas",
        fields=("company_id", "name", "position", "active", "created_at"),
        indexes=(
            ("company_id", "position"),
            ("company_id", "active"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "name"),),
    )
)

Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
YEAR = 366 * 24 * 60


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (like Europe/Paris)") from None
    if name not in available_timezones() and name != "UTC":
        raise ValueError(f"{name!r} is not an IANA time zone (like Europe/Paris)")
    return name


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]


class Window(Input):
    start: Clock = Field(examples=["09:00"])
    end: Clock = Field(examples=["17:00"])

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if parse_clock(self.end) <= parse_clock(self.start):
            raise ValueError("a working window ends after it starts")
        return self


WEEK = {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS[:5]}


class CalendarIn(Input):
    time_zone: TimeZone = "UTC"
    hours: dict[Weekday, list[Window]] = Field(
        default_factory=lambda: {d: [Window(**w) for w in ws] for d, ws in WEEK.items()},
        description="Working windows per weekday; several a day leave breaks between them",
    )
    holidays: list[Day] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _windows(self) -> CalendarIn:
        for day, windows in self.hours.items():
            spans = sorted((parse_clock(w.start), parse_clock(w.end)) for w in windows)
            if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):
                raise ValueError(f"hours.{day}: working windows overlap")
        if not any(self.hours.values()):
            raise ValueError("hours: give at least one working window")
        return self


class Target(Input):
    first_response_minutes: StrictInt = Field(ge=1, le=YEAR)
    resolution_minutes: StrictInt = Field(ge=1, le=YEAR)

    @model_validator(mode="after")
    def _ordered(self) -> Target:
        if self.first_response_minutes > self.resolution_minutes:
            raise ValueError("first_response_minutes is at most resolution_minutes")
        return self


class Conditions(Input):
    category_ids: list[ObjectIdStr] = Field(default_factory=list, max_length=100)
    priorities: list[Priority] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    contact_ids: list[ObjectIdStr] = Field(default_factory=list, max_length=100)


class SlaFields(Declared):
    name: Name
    position: StrictInt = Field(100, ge=0, le=1_000_000, description="Lower applies first")
    active: StrictBool = True
    conditions: Conditions = Field(default_factory=Conditions)
    targets: dict[Priority, Target] = Field(min_length=1)
    business_hours: StrictBool = Field(True, description="Count working time of the calendar")
    calendar: CalendarIn = Field(default_factory=CalendarIn)
    pause_on: list[Literal["waiting", "on_hold"]] = Field(
        default_factory=lambda: ["waiting", "on_hold"],
        description="Statuses that stop the clock",
    )


async def _references(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    conditions = data.get("conditions") or {}
    for i, category in enumerate(conditions.get("category_ids") or []):
        await referenced(
            ctx, "helpdesk_categories", category, f"conditions.category_ids.{i}", "category"
        )
    for i, contact in enumerate(conditions.get("contact_ids") or []):
        await referenced(ctx, "contacts", contact, f"conditions.contact_ids.{i}", "contact")
    return data


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    return await _references(ctx, changes)


STANDARD_TARGETS = {
    "urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
    "high": {"first_response_minutes": 60, "resolution_minutes": 480},
    "medium": {"first_response_minutes": 240, "resolution_minutes": 1440},
    "low": {"first_response_minutes": 480, "resolution_minutes": 2400},
}


async def _give_standard(ctx: Ctx, company: dict[str, Any]) -> None:
    now = utcnow()
    await ctx.store.insert_one(
        "helpdesk_slas",
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "name": "Standard",
            "position": 1000,
            "active": True,
            "conditions": {"category_ids": [], "priorities": [], "channels": [], "contact_ids": []},
            "targets": STANDARD_TARGETS,
            "business_hours": True,
            "calendar": {"time_zone": "UTC", "hours": WEEK, "holidays": []},
            "pause_on": ["waiting", "on_hold"],
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )


STANDARD_SLA = CompanyStart("helpdesk.standard_sla", _give_standard)

SLAS = Resource(
    name="helpdesk/slas",
    label="SLA policy",
    collection="helpdesk_slas",
    module=MODULE,
    tag=TAG,
    fields=SlaFields,
    search=("name",),
    filters={"active": "eq"},
    sort=("position", "name", "created_at", "updated_at"),
    default_sort="position",
    hooks=Hooks(before_create=_references, before_update=_before_update),
    conflict="an SLA policy with this name already exists",
    example={
        "name": "Urgent billing",
        "position": 10,
        "conditions": {"priorities": ["urgent", "high"]},
        "targets": {
            "urgent": {"first_response_minutes": 15, "resolution_minutes": 240},
            "high": {"first_response_minutes": 60, "resolution_minutes": 480},
        },
        "calendar": {
            "time_zone": "Europe/London",
            "hours": {
                d: [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "17:30"}]
                for d in ("mon", "tue", "wed", "thu", "fri")
            },
            "holidays": [InDays(22), InDays(25)],
        },
        "pause_on": ["waiting"],
    },
)
