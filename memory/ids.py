"""Object ids (24-hex, MongoDB ObjectId format) and UTC timestamps, as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bson import ObjectId

OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def new_id() -> str:
    return str(ObjectId())


def is_object_id(value: str) -> bool:
    # fullmatch: with match, `$` would also accept a trailing newline ("<24 hex>\n").
    return bool(OBJECT_ID.fullmatch(value))


def utcnow() -> str:
    """Now as ISO 8601 UTC with millisecond precision and a `Z`, which sorts as text."""
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    """A moment as stored: ISO 8601 UTC with millisecond precision and a `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def today() -> str:
    """Today's date in UTC as stored (ISO 8601), the day every due, valid and expiry date is
    compared with."""
    return datetime.now(UTC).date().isoformat()
