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
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 366 * 20
"""How far ahead a due time is searched: a calendar must have a working minute in 20 years."""

ONE_DAY = timedelta(days=1)
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

    @cached_property
    def lengths(self) -> tuple[timedelta, ...]:
        """Each weekday's working time by the wall clock (0 = Monday)."""
        return tuple(
            timedelta(minutes=sum(end - begin for begin, end in self.hours.get(d, ())))
            for d in range(7)
        )

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


@lru_cache(maxsize=65536)
def _shifts(time_zone: str, day: date) -> bool:
    """Whether the zone's UTC offset changes during `day` (a daylight-saving day)."""
    zone = ZoneInfo(time_zone)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    following = datetime.combine(day + ONE_DAY, time(0), tzinfo=zone)
    return midnight.utcoffset() != following.utcoffset()


def _exact(calendar: Calendar, day: date) -> Iterator[tuple[datetime, datetime]]:
    zone = calendar.zone
    for begin, end in calendar.hours.get(day.weekday(), ()):
        yield _instant(zone, day, begin), _instant(zone, day, end)


def add(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant when `minutes` of working time have passed after `start`.

    Counted on the wall clock (one time-zone conversion each way) when no day on the way
    changes the zone's offset, which is exact; else window by window in UTC instants."""
    if not calendar.works:
        raise ValueError("the calendar has no working hours")
    found = _add_on_wall_clock(calendar, start, timedelta(minutes=minutes))
    return found if found is not None else _add_exact(calendar, start, timedelta(minutes=minutes))


def _add_on_wall_clock(calendar: Calendar, start: datetime, left: timedelta) -> datetime | None:
    zone, name = calendar.zone, calendar.time_zone
    local = start.astimezone(zone).replace(tzinfo=None)
    day = local.date()
    lengths = calendar.lengths
    for offset in range(MAX_DAYS):
        current = day + timedelta(days=offset)
        if _shifts(name, current):
            return None
        length = lengths[current.weekday()]
        if not length or current in calendar.holidays:
            continue
        if offset and left > length:
            left -= length
            continue
        midnight = datetime.combine(current, time(0))
        for begin, end in calendar.hours[current.weekday()]:
            finish = midnight + timedelta(minutes=end)
            if finish <= local:
                continue
            since = max(midnight + timedelta(minutes=begin), local)
            if left <= finish - since:
                wall = since + left
                if wall.date() != current and _shifts(name, wall.date()):
                    return None
                return wall.replace(tzinfo=zone).astimezone(UTC)
            left -= finish - since
    raise ValueError("no working time within 20 years of the start")


def _add_exact(calendar: Calendar, start: datetime, left: timedelta) -> datetime:
    day = start.astimezone(calendar.zone).date()
    lengths = calendar.lengths
    for offset in range(MAX_DAYS):
        current = day + timedelta(days=offset)
        length = lengths[current.weekday()]
        if not length or current in calendar.holidays:
            continue
        if offset and left > length and not _shifts(calendar.time_zone, current):
            left -= length
            continue
        for begin, end in _exact(calendar, current):
            if end <= start:
                continue
            begin = max(begin, start)
            span = end - begin
            if left <= span:
                return begin + left
            left -= span
    raise ValueError("no working time within 20 years of the start")


def between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """The working time inside `[start, end)`."""
    total = timedelta(0)
    if end <= start:
        return total
    zone = calendar.zone
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    lengths = calendar.lengths
    current = first
    while current <= last:
        length = lengths[current.weekday()]
        if length and current not in calendar.holidays:
            if first < current < last and not _shifts(calendar.time_zone, current):
                total += length
            else:
                for begin, finish in _exact(calendar, current):
                    overlap = min(finish, end) - max(begin, start)
                    if overlap > timedelta(0):
                        total += overlap
        current += ONE_DAY
    return total
