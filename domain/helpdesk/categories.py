"""Helpdesk categories: a name (unique in the company), the priority a ticket of the
category gets when it names none, and who it is assigned to by default (a member of the
company). A category that tickets or articles use cannot be deleted (409 `category_in_use`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain.context import Ctx
from domain.fields import LongText, Name, ObjectIdStr
from domain.helpdesk.common import MODULE, TAG, Priority, member
from domain.resources import Declared, Hooks, Kept, Resource
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "helpdesk_categories",
        fields=("company_id", "name", "created_at", "updated_at"),
        indexes=(
            ("company_id", "default_priority"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "name"),),
    )
)


class CategoryFields(Declared):
    name: Name
    description: LongText | None = None
    default_priority: Priority = Field("medium", description="For tickets that name none")
    default_assignee_id: ObjectIdStr | None = Field(
        None, description="A user of the company; tickets of the category go to them"
    )


async def _check(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("default_assignee_id"):
        await member(ctx, data["default_assignee_id"], "default_assignee_id")
    return data


async def _check_update(ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]):
    return await _check(ctx, changes)


IN_USE = "the category is used by {}; move them to another category first"

CATEGORIES = Resource(
    name="helpdesk/categories",
    label="helpdesk category",
    collection="helpdesk_categories",
    module=MODULE,
    tag=TAG,
    fields=CategoryFields,
    search=("name",),
    filters={"default_priority": "eq"},
    sort=("name", "created_at", "updated_at"),
    default_sort="name",
    hooks=Hooks(before_create=_check, before_update=_check_update),
    kept_while=(
        Kept("helpdesk_tickets", "category_id", IN_USE.format("tickets"), "category_in_use"),
        Kept("helpdesk_articles", "category_id", IN_USE.format("articles"), "category_in_use"),
    ),
    conflict="a helpdesk category with this name already exists",
    example={"name": "Billing", "default_priority": "high"},
)
