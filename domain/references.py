"""Ids named in a request body: they must be this company's, or the request is a 400 naming
the field. (An id in the URL that is missing or another company's is a 404 instead.)"""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from domain.errors import Invalid
from memory.ids import is_object_id


def _bad(field: str, message: str) -> Invalid:
    return Invalid(
        f"{field}: {message}",
        code="invalid_reference",
        details=[{"field": field, "message": message}],
    )


async def referenced(
    ctx: Ctx, collection: str, id: Any, field: str, label: str, **conditions: Any
) -> dict[str, Any]:
    if not isinstance(id, str) or not is_object_id(id):
        raise _bad(field, f"{id!r} is not a valid {label} id")
    doc = await ctx.store.find_one(collection, ctx.scope(_id=id))
    if doc is None:
        raise _bad(field, f"no {label} {id} in this company")
    for key, expected in conditions.items():
        allowed = expected if isinstance(expected, tuple) else (expected,)
        if doc.get(key) not in allowed:
            raise _bad(
                field,
                f"{label} {id} has {key} {doc.get(key)!r}; expected "
                f"{' or '.join(map(str, allowed))}",
            )
    if doc.get("enabled") is False:
        raise _bad(field, f"{label} {id} is disabled")
    return doc


async def referenced_many(
    ctx: Ctx, collection: str, ids: list[str], field: str, label: str
) -> list[dict[str, Any]]:
    return [
        await referenced(ctx, collection, id, f"{field}.{i}", label) for i, id in enumerate(ids)
    ]
