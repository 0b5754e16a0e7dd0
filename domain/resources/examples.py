"""Working request examples. A declaration's example names the objects it refers to with
`Ref("contacts")`; the OpenAPI document shows a sample id there, and the conformance suite
creates the referenced object from its own example first, so every example is known to work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SAMPLE_ID = "6745a1c2e4b0f3a9d2c81e57"


@dataclass(frozen=True)
class Ref:
    """The id of an object of the resource at `path` (created from its own example)."""

    path: str
    fields: tuple[tuple[str, Any], ...] = ()

    def __init__(self, path: str, **fields: Any):
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "fields", tuple(fields.items()))


def openapi_example(example: Any) -> Any:
    if isinstance(example, Ref):
        return SAMPLE_ID
    if isinstance(example, dict):
        return {k: openapi_example(v) for k, v in example.items()}
    if isinstance(example, list):
        return [openapi_example(v) for v in example]
    return example
