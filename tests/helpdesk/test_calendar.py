"""Business time and the SLA clock, on worked examples with their exact due times (each
known SLA bug of the anchors is one), and properties that hold for every calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.helpdesk import calendar, sla
from domain.helpdesk.calendar import Calendar

NINE_TO_FIVE = {d: ((9 * 60, 17 * 60),) for d in range(5)}
WITH_LUNCH = {d: ((9 * 60, 12 * 60), (13 * 60, 17 * 60)) for d in range(5)}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def policy(minutes_first: int, minutes_resolution: int, **calendar_spec: object) -> dict:
    spec = {
        "time_zone": "UTC",
        "hours": {
            d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")
        },
        "holidays": [],
        **calendar_spec,
    }
    targets = {"first_response_minutes": minutes_first, "resolution_minutes": minutes_resolution}
    return {
        "_id": "p" * 24,
        "name": "Standard",
        "position": 1,
        "created_at": "2026-01-01T00:00:00.000Z",
        "active": True,
        "conditions": {},
        "targets": {p: targets for p in ("low", "medium", "high", "urgent")},
        "business_hours": True,
        "calendar": spec,
        "pause_on": ["waiting", "on_hold"],
    }


def ticket(created: str, pol: dict, status: str = "new", priority: str = "medium") -> dict:
    doc = {"created_at": sla.stamp(at(created)), "status": status, "priority": priority}
    return {**doc, **sla.apply(doc, pol, at(created))}


@pytest.mark.parametrize(
    ("hours", "zone", "holidays", "start", "minutes", "due"),
    [
        # frappe/helpdesk #2075: raised on a Saturday, the clock starts at Monday's opening.
        (NINE_TO_FIVE, "UTC", (), "2026-12-05T10:00:00+00:00", 60, "2026-12-07T10:00:00+00:00"),
        # frappe/helpdesk #2212: the lunch break is not working time.
        (WITH_LUNCH, "UTC", (), "2026-12-07T11:00:00+00:00", 120, "2026-12-07T14:00:00+00:00"),
        # Ends exactly at closing: due at 17:00, not the next morning.
        (NINE_TO_FIVE, "UTC", (), "2026-12-07T16:00:00+00:00", 60, "2026-12-07T17:00:00+00:00"),
        # Overnight: Friday 16:30 + 90 min = Monday 10:00.
        (NINE_TO_FIVE, "UTC", (), "2026-12-04T16:30:00+00:00", 90, "2026-12-07T10:00:00+00:00"),
        # Before opening counts from opening.
        (NINE_TO_FIVE, "UTC", (), "2026-12-07T06:00:00+00:00", 30, "2026-12-07T09:30:00+00:00"),
        # A holiday Monday is skipped.
        (
            NINE_TO_FIVE,
            "UTC",
            (date(2026, 12, 7),),
            "2026-12-04T16:00:00+00:00",
            120,
            "2026-12-08T10:00:00+00:00",
        ),
        # New York across the spring-forward weekend: Friday 16:00 EST + 2 h = Monday 10:00
        # EDT (14:00 UTC, one hour earlier in UTC than the same wall time on Friday).
        (
            NINE_TO_FIVE,
            "America/New_York",
            (),
            "2026-03-06T16:00:00-05:00",
            120,
            "2026-03-09T10:00:00-04:00",
        ),
        # Tokyo hours, a UTC start: 2026-12-07 23:00 UTC is Tuesday 08:00 in Tokyo.
        (
            NINE_TO_FIVE,
            "Asia/Tokyo",
            (),
            "2026-12-07T23:00:00+00:00",
            60,
            "2026-12-08T10:00:00+09:00",
        ),
    ],
)
def test_due_times(hours, zone, holidays, start, minutes, due) -> None:
    cal = Calendar(zone, hours, frozenset(holidays))
    assert calendar.add(cal, at(start), minutes) == at(due)


def test_zammad_48_hours_on_12_hour_days_across_two_holidays() -> None:
    """zammad #390: a 48 h target on 12-hour days (08:00-20:00, every day) with two holidays
    is due 6 calendar days later: created Monday 20:00 (closing), Tuesday and Wednesday are
    holidays, Thursday to Sunday give the 4 x 12 hours."""
    every_day = {d: ((8 * 60, 20 * 60),) for d in range(7)}
    cal = Calendar("Europe/Berlin", every_day, frozenset({date(2026, 12, 8), date(2026, 12, 9)}))
    start = at("2026-12-07T20:00:00+01:00")
    due = calendar.add(cal, start, 48 * 60)
    assert due == at("2026-12-13T20:00:00+01:00")
    assert due - start == timedelta(days=6)


def test_a_paused_status_stops_the_clock_for_real() -> None:
    """frappe/helpdesk #1554: 8 h resolution, created Monday 09:00, waiting on the customer
    from Monday 10:00 to Tuesday 10:00 (8 working hours): due Tuesday 17:00, not Monday."""
    pol = policy(60, 480)
    t = ticket("2026-12-07T09:00:00+00:00", pol)
    assert t["resolution_due_at"] == "2026-12-07T17:00:00.000Z"
    t = {**t, **sla.on_status(t, "waiting", at("2026-12-07T10:00:00+00:00")), "status": "waiting"}
    assert t["resolution_due_at"] is None and t["paused_since"]
    assert sla.shown(t, "2026-12-08T09:00:00.000Z")["agreement_status"] == "paused"
    t = {**t, **sla.on_status(t, "open", at("2026-12-08T10:00:00+00:00")), "status": "open"}
    assert t["paused_seconds"] == 8 * 3600
    assert t["first_response_due_at"] == "2026-12-08T10:00:00.000Z"
    assert t["resolution_due_at"] == "2026-12-08T17:00:00.000Z"
    resolved = sla.on_status(t, "resolved", at("2026-12-08T16:59:00+00:00"))
    assert resolved["resolution_breached"] is False
    # Not first-responded by 10:00 Tuesday (after the pause): that target failed.
    assert resolved["first_response_breached"] is True


def test_an_edited_target_shows_on_new_tickets() -> None:
    """frappe/helpdesk #2214: a first-response target edited from 120 to 24 minutes shows as
    24 minutes on the tickets created after the edit."""
    before = ticket("2026-12-07T09:00:00+00:00", policy(120, 480))
    assert before["first_response_due_at"] == "2026-12-07T11:00:00.000Z"
    after = ticket("2026-12-07T09:00:00+00:00", policy(24, 480))
    assert after["first_response_due_at"] == "2026-12-07T09:24:00.000Z"


def test_first_response_on_time_and_late() -> None:
    pol = policy(60, 480)
    t = ticket("2026-12-07T09:00:00+00:00", pol)
    on_time = sla.on_first_response(t, at("2026-12-07T09:59:00+00:00"))
    assert on_time["first_response_breached"] is False
    assert on_time["next_due_at"] == t["resolution_due_at"]
    late = sla.on_first_response(t, at("2026-12-07T10:01:00+00:00"))
    assert late["first_response_breached"] is True
    shown = sla.shown({**t, **late}, "2026-12-07T10:02:00.000Z")
    assert shown["agreement_status"] == "failed"


def test_resolving_stops_the_clock_and_reopening_resumes_it() -> None:
    pol = policy(60, 480)
    t = ticket("2026-12-07T09:00:00+00:00", pol)
    t = {**t, **sla.on_first_response(t, at("2026-12-07T09:30:00+00:00"))}
    t = {**t, **sla.on_status(t, "resolved", at("2026-12-07T12:00:00+00:00")), "status": "resolved"}
    assert sla.shown(t, "2026-12-09T00:00:00.000Z")["agreement_status"] == "fulfilled"
    assert t["next_due_at"] is None
    # Reopened Tuesday 09:00: the 5 working hours while resolved (Monday 12:00-17:00) do not
    # count, so 5 of the 8 hours are left: due Tuesday 14:00.
    t = {**t, **sla.on_status(t, "open", at("2026-12-08T09:00:00+00:00")), "status": "open"}
    assert t["resolution_due_at"] == "2026-12-08T14:00:00.000Z"
    assert t["resolution_breached"] is None and t["resolved_at"] is None


def test_first_matching_policy_applies() -> None:
    urgent_only = {**policy(15, 60), "_id": "u" * 24, "position": 0, "name": "Urgent"}
    urgent_only["conditions"] = {"priorities": ["urgent"]}
    standard = policy(60, 480)
    assert sla.choose([standard, urgent_only], {"priority": "urgent"})["name"] == "Urgent"
    assert sla.choose([standard, urgent_only], {"priority": "low"})["name"] == "Standard"
    urgent_only["active"] = False
    assert sla.choose([standard, urgent_only], {"priority": "urgent"})["name"] == "Standard"


# --- properties -------------------------------------------------------------------------

ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney")


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = {}
    for day in range(7):
        cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        if len(cuts) % 2:
            cuts = cuts[:-1]
        hours[day] = tuple((cuts[i] * 30, cuts[i + 1] * 30) for i in range(0, len(cuts), 2))
    if not any(hours.values()):
        hours[0] = ((540, 1020),)
    holidays = draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20))
    return Calendar(draw(st.sampled_from(ZONES)), hours, frozenset(holidays))


starts = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC, microsecond=0)
)


@settings(max_examples=150, deadline=None)
@given(calendars(), starts, st.integers(0, 5000))
def test_adding_working_time_then_measuring_it_gives_it_back(cal, start, minutes) -> None:
    due = calendar.add(cal, start, minutes)
    assert due >= start
    assert calendar.between(cal, start, due) == timedelta(minutes=minutes)


@settings(max_examples=150, deadline=None)
@given(calendars(), starts, st.integers(0, 3000), st.integers(0, 3000))
def test_working_time_adds_up(cal, start, a, b) -> None:
    """Adding a then b is adding a + b, and more time is never due earlier."""
    assert calendar.add(cal, calendar.add(cal, start, a), b) == calendar.add(cal, start, a + b)
    assert calendar.add(cal, start, min(a, b)) <= calendar.add(cal, start, max(a, b))


def reference_add(cal: Calendar, start: datetime, minutes: int) -> datetime:
    """Window by window, every instant built: the plain reading of the rule."""
    left = timedelta(minutes=minutes)
    day = start.astimezone(cal.zone).date()
    for offset in range(3000):
        current = day + timedelta(days=offset)
        if current in cal.holidays:
            continue
        for begin, end in cal.hours.get(current.weekday(), ()):
            b = calendar._instant(cal.zone, current, begin)
            e = calendar._instant(cal.zone, current, end)
            if e <= start:
                continue
            b = max(b, start)
            if left <= e - b:
                return b + left
            left -= e - b
    raise AssertionError("not reached")


@settings(max_examples=200, deadline=None)
@given(calendars(), starts, st.integers(0, 20000))
def test_whole_days_counted_by_length_match_the_window_walk(cal, start, minutes) -> None:
    assert calendar.add(cal, start, minutes) == reference_add(cal, start, minutes)
