"""A ticket's service-level agreement: which policy applies, and its clock.

Policies are ordered (`position`, then age) and the first whose conditions all hold for the
ticket applies (Zendesk's ordered policies); a condition left empty holds for every ticket,
and a policy with no target for the ticket's priority does not apply to it. The ticket keeps
a snapshot of what applied (targets, calendar, pausing statuses), so editing a policy changes
the tickets it is applied to from then on (new tickets, or a ticket whose priority or
category changes), never silently the due times already shown (frappe/helpdesk #2214).

The clock counts working time of the policy's calendar (or all time when the policy is not
in business hours) from the ticket's creation. While the ticket is in a pausing status
(`pause_on`: waiting on the customer, on hold) and while it is resolved, the clock stops for
real (frappe/helpdesk #1554): the working time spent there is added to `paused_seconds` when
it leaves, and every due time is `creation + target + paused` in working time. While paused
the due times are not shown (null): nothing can breach.

Breaches are judged on elapsed active working time (`elapsed = working(created, t) -
paused`) against the target, at the moment it counts: the first public agent reply for the
first response (resolving without one counts as the response), resolving for the
resolution. A pending target breaches once its due time passes; `next_due_at` (the earliest
pending due time, null when paused or resolved) makes "breached" and "breaching within N
minutes" index reads.

Agreement status (Frappe's): `first_response_due`, `resolution_due`, `paused`, `fulfilled`
(resolved with no breach) or `failed` (a target breached).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import orjson

from domain.helpdesk import calendar
from domain.helpdesk.calendar import WEEKDAYS, Calendar
from memory.ids import stamp

Doc = dict[str, Any]
STOPPED = ("resolved", "closed")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


_CALENDARS: dict[bytes, Calendar] = {}
MOST_CALENDARS = 4096


def calendar_of(snapshot: Doc) -> Calendar:
    """The calendar a policy snapshot counts in (all time unless `business_hours`); parsed
    once per distinct calendar (tickets share their policy's)."""
    if not snapshot.get("business_hours"):
        return calendar.ALWAYS
    key = orjson.dumps(snapshot["calendar"], option=orjson.OPT_SORT_KEYS)
    found = _CALENDARS.get(key)
    if found is None:
        if len(_CALENDARS) >= MOST_CALENDARS:
            _CALENDARS.clear()
        found = _CALENDARS[key] = _parse_calendar(snapshot["calendar"])
    return found


def _parse_calendar(spec: Doc) -> Calendar:
    hours = {
        i: tuple(
            (calendar.parse_clock(w["start"]), calendar.parse_clock(w["end"]))
            for w in spec.get("hours", {}).get(day, [])
        )
        for i, day in enumerate(WEEKDAYS)
    }
    holidays = frozenset(date.fromisoformat(d) for d in spec.get("holidays", []))
    return Calendar(spec.get("time_zone", "UTC"), hours, holidays)


def matches(policy: Doc, ticket: Doc) -> bool:
    conditions = policy.get("conditions") or {}
    checks = (
        ("category_ids", ticket.get("category_id")),
        ("priorities", ticket.get("priority")),
        ("channels", ticket.get("channel")),
        ("contact_ids", ticket.get("contact_id")),
    )
    for key, value in checks:
        allowed = conditions.get(key) or []
        if allowed and value not in allowed:
            return False
    return bool((policy.get("targets") or {}).get(ticket.get("priority")))


def choose(policies: list[Doc], ticket: Doc) -> Doc | None:
    """The first active policy (by position, then age) whose conditions the ticket meets."""
    ordered = sorted(policies, key=lambda p: (p.get("position", 0), p["created_at"], p["_id"]))
    return next((p for p in ordered if p.get("active", True) and matches(p, ticket)), None)


def snapshot(policy: Doc, priority: str) -> Doc:
    target = policy["targets"][priority]
    return {
        "first_response_minutes": target["first_response_minutes"],
        "resolution_minutes": target["resolution_minutes"],
        "business_hours": policy.get("business_hours", True),
        "calendar": policy.get("calendar"),
        "pause_on": list(policy.get("pause_on") or []),
    }


def paused_total(ticket: Doc, now: datetime) -> timedelta:
    """Working time spent paused up to `now` (the running pause included)."""
    total = timedelta(seconds=ticket.get("paused_seconds") or 0)
    since = ticket.get("paused_since")
    snap = ticket.get("sla")
    if since and snap:
        total += calendar.between(calendar_of(snap), parse(since), now)
    return total


def elapsed(ticket: Doc, now: datetime) -> timedelta:
    """Active working time from creation to `now`: what is measured against the targets."""
    snap = ticket["sla"]
    worked = calendar.between(calendar_of(snap), parse(ticket["created_at"]), now)
    return worked - paused_total(ticket, now)


def due_times(ticket: Doc) -> Doc:
    """The shown due times and `next_due_at` from the stored clock. While paused they are
    null (nothing can breach); once resolved they stay as they were, with no next due."""
    snap = ticket.get("sla")
    empty: Doc = {"first_response_due_at": None, "resolution_due_at": None, "next_due_at": None}
    stopped = ticket.get("status") in STOPPED
    if not snap or (ticket.get("paused_since") and not stopped):
        return empty
    cal = calendar_of(snap)
    start = parse(ticket["created_at"])
    paused = (ticket.get("paused_seconds") or 0) / 60
    first = stamp(calendar.add(cal, start, snap["first_response_minutes"] + paused))
    resolution = stamp(calendar.add(cal, start, snap["resolution_minutes"] + paused))
    answered = ticket.get("first_responded_at") or ticket.get("first_response_breached")
    pending = None if stopped else resolution if answered else first
    return {"first_response_due_at": first, "resolution_due_at": resolution, "next_due_at": pending}


def _breached(ticket: Doc, now: datetime, minutes_key: str) -> bool:
    return elapsed(ticket, now) > timedelta(minutes=ticket["sla"][minutes_key])


def apply(ticket: Doc, policy: Doc | None, now: datetime) -> Doc:
    """The SLA fields of `ticket` with `policy` applied (or none), keeping its clock."""
    if policy is None:
        return {
            "sla_id": None,
            "sla_name": None,
            "sla": None,
            "paused_since": None,
            "first_response_breached": None,
            "resolution_breached": None,
            **due_times({}),
        }
    fields: Doc = {
        "sla_id": policy["_id"],
        "sla_name": policy["name"],
        "sla": snapshot(policy, ticket["priority"]),
    }
    merged = {**ticket, **fields}
    pausing = merged["status"] in merged["sla"]["pause_on"] or merged["status"] in STOPPED
    if pausing and not merged.get("paused_since"):
        fields["paused_since"] = stamp(now)
    elif not pausing and merged.get("paused_since"):
        fields.update(_resume(merged, now))
    merged.update(fields)
    return {**fields, **due_times(merged)}


def _resume(ticket: Doc, now: datetime) -> Doc:
    total = paused_total(ticket, now)
    return {"paused_seconds": int(total.total_seconds()), "paused_since": None}


def on_status(ticket: Doc, target: str, now: datetime) -> Doc:
    """The clock's fields when the ticket moves to `target`."""
    changes: Doc = {}
    resolving = target in STOPPED and ticket["status"] not in STOPPED
    reopening = target not in STOPPED and ticket["status"] in STOPPED
    if resolving:
        changes["resolved_at"] = stamp(now)
    if reopening:
        changes["resolved_at"] = None
    snap = ticket.get("sla")
    if snap is None:
        return changes
    if resolving:
        if (
            ticket.get("first_responded_at") is None
            and ticket.get("first_response_breached") is None
        ):
            changes["first_response_breached"] = _breached(ticket, now, "first_response_minutes")
        changes["resolution_breached"] = _breached(ticket, now, "resolution_minutes")
    if reopening:
        changes["resolution_breached"] = None  # judged again at the next resolution
    pausing = target in snap["pause_on"] or target in STOPPED
    if pausing and not ticket.get("paused_since"):
        changes["paused_since"] = stamp(now)
    elif not pausing and ticket.get("paused_since"):
        changes.update(_resume(ticket, now))
    return {**changes, **due_times({**ticket, **changes, "status": target})}


def on_first_response(ticket: Doc, now: datetime) -> Doc:
    """The clock's fields when the first public agent reply is sent at `now`."""
    changes: Doc = {"first_responded_at": stamp(now)}
    if ticket.get("sla") and ticket.get("first_response_breached") is None:
        changes["first_response_breached"] = _breached(ticket, now, "first_response_minutes")
    return {**changes, **due_times({**ticket, **changes})}


def shown(ticket: Doc, now: str) -> Doc:
    """Agreement status and breach flags as of `now` (ISO text), from stored fields only."""
    if not ticket.get("sla"):
        return {
            "agreement_status": None,
            "first_response_breached": False,
            "resolution_breached": False,
        }
    first_due, resolution_due = ticket.get("first_response_due_at"), ticket.get("resolution_due_at")
    first = ticket.get("first_response_breached")
    if first is None:
        first = bool(
            ticket.get("first_responded_at") is None and first_due is not None and first_due < now
        )
    resolution = ticket.get("resolution_breached")
    if resolution is None:
        resolution = bool(
            ticket["status"] not in STOPPED and resolution_due is not None and resolution_due < now
        )
    if first or resolution:
        status = "failed"
    elif ticket["status"] in STOPPED:
        status = "fulfilled"
    elif ticket.get("paused_since"):
        status = "paused"
    elif ticket.get("first_responded_at") is None:
        status = "first_response_due"
    else:
        status = "resolution_due"
    return {
        "agreement_status": status,
        "first_response_breached": first,
        "resolution_breached": resolution,
    }
