"""Working request examples. A declaration's example names the objects it refers to with
`Ref("contacts")`; the OpenAPI document shows a sample id there, and the conformance suite
creates the referenced object from its own example first, so every example is known to work.
A date that must stay as near today as it was written (an invoice due in 30 days, a deal to
close next month) is `InDays(30)`: today's date moved by that many days, as the example is
rendered, so no example goes stale and turns overdue or expired with the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from memory.ids import today

SAMPLE_ID = "6745a1c2e4b0f3a9d2c81e57"


@dataclass(frozen=True)
class Ref:
    """The id of an object of the resource at `path` (created from its own example)."""

    path: str
    fields: tuple[tuple[str, Any], ...] = ()

    def __init__(self, path: str, **fields: Any):
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "fields", tuple(fields.items()))


@dataclass(frozen=True)
class InDays:
    """Today's date (UTC) moved by `days`, rendered when the example is."""

    days: int

    def render(self) -> str:
        return (date.fromisoformat(today()) + timedelta(days=self.days)).isoformat()


def openapi_example(example: Any) -> Any:
    if isinstance(example, Ref):
        return SAMPLE_ID
    if isinstance(example, InDays):
        return example.render()
    if isinstance(example, dict):
        return {k: openapi_example(v) for k, v in example.items()}
    if isinstance(example, list):
        return [openapi_example(v) for v in example]
    return example
