"""Business time: a calendar of working hours per weekday (with breaks), a time zone and
holidays, and the two computations every SLA rests on.

- `add(calendar, start, minutes)`: the instant at which `minutes` of working time have
  elapsed after `start`. A start outside working hours (a weekend, a holiday, the night, a
  lunch break) begins counting at the next working minute, so a ticket raised on a Saturday
  with a 60-minute target is due an hour after Monday's opening (frappe/helpdesk #2075:
  only elapsed business time counts, nothing is added to the creation time).
- `between(calendar, start, end)`: the working minutes inside `[start, end)` (the time a
  paused ticket spent in its pause, say).

Working hours are local wall-clock times in the calendar's IANA time zone; each day's
intervals are turned into UTC instants through `zoneinfo`, so a day across a daylight-saving
change has its real length (a 09:00-17:00 day is 8 hours on both sides of it). A local time
that does not exist on a spring-forward day, or occurs twice in autumn, is read as PEP 495's
`fold=0` does (with the offset before the change). Holidays are whole local days.
`24/7` is a calendar whose every day is one interval 00:00-24:00 in UTC.

Instants are timezone-aware UTC datetimes with microseconds; minutes are whole minutes
(targets are whole minutes; a paused time is counted to the second and kept in seconds by
the callers that need it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 366 * 20
"""How far ahead a due time is searched: a calendar must have a working minute in 20 years."""

Interval = tuple[int, int]
"""Minutes after local midnight, [start, end), 0 <= start < end <= 1440."""


@dataclass(frozen=True)
class Calendar:
    time_zone: str = "UTC"
    hours: dict[int, tuple[Interval, ...]] = field(default_factory=dict)
    """Weekday (0 = Monday) -> its working intervals, sorted and not overlapping."""
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def works(self) -> bool:
        """Whether any weekday has working time (else no due time can ever be reached)."""
        return any(self.hours.get(d) for d in range(7))


ALWAYS = Calendar("UTC", {d: ((0, 1440),) for d in range(7)})


def parse_clock(text: str) -> int:
    """`HH:MM` (or `24:00`) as minutes after midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The UTC instant of local `minute` on `day` (1440 is the next day's midnight), by
    wall-clock arithmetic so that daylight-saving shifts apply."""
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minute)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _windows(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working windows (UTC) from the local day of `start` on, in order."""
    zone = calendar.zone
    day = start.astimezone(zone).date()
    for offset in range(MAX_DAYS):
        current = day + timedelta(days=offset)
        if current in calendar.holidays:
            continue
        for begin, end in calendar.hours.get(current.weekday(), ()):
            yield _instant(zone, current, begin), _instant(zone, current, end)


def add(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant when `minutes` of working time have passed after `start`."""
    if not calendar.works:
        raise ValueError("the calendar has no working hours")
    left = timedelta(minutes=minutes)
    for begin, end in _windows(calendar, start):
        if end <= start:
            continue
        begin = max(begin, start)
        span = end - begin
        if left <= span:
            if left == timedelta(0):
                return begin
            return begin + left
        left -= span
    raise ValueError("no working time within 20 years of the start")


def between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """The working time inside `[start, end)`."""
    total = timedelta(0)
    if end <= start:
        return total
    for begin, finish in _windows(calendar, start):
        if begin >= end:
            break
        overlap = min(finish, end) - max(begin, start)
        if overlap > timedelta(0):
            total += overlap
    return total
