"""Bank rules: what to do with a feed line that looks like one seen before.

As Xero's and QuickBooks' bank rules: conditions on the description, counterparty or
reference (or any of them, `any_text`), each `contains`, `equals` or `starts_with`,
case-insensitive, all or any of them (`match`); an amount range on the absolute amount and
a direction (money in, out, or either); one account or every account. Rules are ordered by
`priority` (lower first, then oldest): the first that matches wins, so restrictive rules go
first. A rule needs at least one condition or amount bound.

What it does: categorise (category, contact, tax), or split the line across categories
(fixed amounts first, then percentages of what is left, totalling 100%; each split its own
category and tax, defaulting to the rule's), and either only suggest
it (the line reads `categorised`, a person accepts it) or create the transaction at once
(`auto_create`, QuickBooks' auto-add: the line is reconciled on import). A rule that sets a
category needs a direction: in posts to an income category, out to an expense one.

Rules run on import and on demand (`POST /api/banking/feeds/apply-rules`) on the lines not
yet reconciled or ignored. A tax is carved out of the line's (gross) amount by the
transaction it records (`banking/transactions.py`: output tax on income, input tax on
expense), so a rule may name only a tax that can be (a rate, not fixed or withholding).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from domain.banking import transactions
from domain.context import Ctx
from domain.errors import Invalid
from domain.fields import Amount, Input, Name, ObjectIdStr, ShortText, StrictBool, StrictInt
from domain.money import round_half_up, to_minor
from domain.references import referenced
from domain.resources import Declared, Hooks, Ref, Resource
from memory.store import CollectionSpec, declare

TextField = Literal["description", "counterparty", "reference", "any_text"]
TEXT_FIELDS = ("description", "counterparty", "reference")
MAX = Decimal("1000000000000")
HUNDRED = Decimal(100)

declare(
    CollectionSpec(
        "bank_feed_rules",
        fields=("company_id", "priority", "enabled", "account_id", "created_at", "name"),
        indexes=(
            ("company_id", "priority", "created_at"),
            ("company_id", "enabled"),
            ("company_id", "account_id"),
            ("company_id", "name"),
            ("company_id", "created_at"),
        ),
    )
)


class Condition(Input):
    field: TextField = "any_text"
    operator: Literal["contains", "equals", "starts_with"] = "contains"
    value: ShortText = Field(min_length=1)


class Split(Input):
    category_id: ObjectIdStr | None = Field(None, description="Default: the rule's category")
    amount: Amount | None = Field(None, gt=0, le=MAX, decimal_places=4)
    percent: Amount | None = Field(None, gt=0, le=100, decimal_places=4)
    description: ShortText | None = None
    tax_id: ObjectIdStr | None = Field(None, description="Default: the rule's tax")

    @model_validator(mode="after")
    def _one(self) -> Split:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a split has either an amount or a percent")
        return self


def check_splits(splits: list[Split] | list[dict[str, Any]], field: str = "splits") -> None:
    percents = [Decimal(str(_get(s, "percent"))) for s in splits if _get(s, "percent") is not None]
    if percents and sum(percents) != HUNDRED:
        raise Invalid(
            f"{field}: the percentages total {sum(percents)}; they must total 100 "
            "(fixed amounts come first, percentages share what is left)",
            code="splits_not_100",
            details=[{"field": field, "message": "percentages must total 100"}],
        )


def _get(split: Any, key: str) -> Any:
    return split.get(key) if isinstance(split, dict) else getattr(split, key)


class RuleFields(Declared):
    name: Name
    priority: StrictInt = Field(100, ge=0, le=1_000_000, description="Lower runs first")
    enabled: StrictBool = True
    account_id: ObjectIdStr | None = Field(None, description="One bank account; none: all")
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=10)
    direction: Literal["in", "out", "any"] = "any"
    amount_min: Amount | None = Field(None, ge=0, le=MAX, decimal_places=4)
    amount_max: Amount | None = Field(None, ge=0, le=MAX, decimal_places=4)
    category_id: ObjectIdStr | None = None
    contact_id: ObjectIdStr | None = None
    tax_id: ObjectIdStr | None = Field(None, description="A tax carved out of the amount")
    splits: list[Split] = Field(default_factory=list, max_length=20)
    auto_create: StrictBool = Field(
        False, description="Create the transaction on import; false only suggests it"
    )


async def _validate(ctx: Ctx, rule: dict[str, Any]) -> None:
    def bad(field: str, message: str, code: str = "validation_error") -> Invalid:
        return Invalid(
            f"{field}: {message}", code=code, details=[{"field": field, "message": message}]
        )

    if (
        not rule.get("conditions")
        and rule.get("amount_min") is None
        and rule.get("amount_max") is None
    ):
        raise bad("conditions", "a rule needs a condition or an amount bound", "rule_matches_all")
    low, high = rule.get("amount_min"), rule.get("amount_max")
    if low is not None and high is not None and Decimal(str(low)) > Decimal(str(high)):
        raise bad("amount_max", "the range ends below where it starts")
    if rule.get("account_id"):
        await referenced(ctx, "accounts", rule["account_id"], "account_id", "account")
    if rule.get("contact_id"):
        await referenced(ctx, "contacts", rule["contact_id"], "contact_id", "contact")
    splits = rule.get("splits") or []
    check_splits(splits)
    categories = [("category_id", rule.get("category_id"))] + [
        (f"splits.{i}.category_id", s.get("category_id")) for i, s in enumerate(splits)
    ]
    if any(c for _, c in categories) and rule.get("direction", "any") == "any":
        raise bad(
            "direction", "a rule that sets a category is for money in or out", "direction_needed"
        )
    kind = "income" if rule.get("direction") == "in" else "expense"
    for field, category in categories:
        if category:
            await referenced(ctx, "categories", category, field, "category", type=kind)
    taxes = [("tax_id", rule.get("tax_id"))] + [
        (f"splits.{i}.tax_id", s.get("tax_id")) for i, s in enumerate(splits)
    ]
    for field, tax in taxes:
        if tax:
            await transactions.bank_tax(ctx, tax, field)


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await _validate(ctx, data)
    return data


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    merged = {**existing, **changes}
    await _validate(ctx, {k: v for k, v in merged.items() if v is not None})
    return changes


RULES = Resource(
    name="banking/feeds/rules",
    label="bank rule",
    collection="bank_feed_rules",
    module="banking",
    tag="Banking",
    fields=RuleFields,
    search=("name",),
    filters={"enabled": "eq", "account_id": "eq"},
    sort=("priority", "name", "created_at"),
    default_sort="priority",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    example={
        "name": "Cloud hosting",
        "priority": 10,
        "conditions": [{"field": "description", "operator": "contains", "value": "AWS"}],
        "direction": "out",
        "category_id": Ref("categories", type="expense"),
    },
)


# --- applying rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    """A rule ready to test lines: its texts lowered once, its bounds in 4-place units."""

    rule: dict[str, Any]
    account_id: str | None
    direction: str
    every: bool
    conditions: tuple[tuple[tuple[str, ...], str, str], ...]
    low: int | None
    high: int | None

    def matches(self, line: dict[str, Any], amount: int, texts: dict[str, str]) -> bool:
        """`amount` in 4-place units; `texts` the line's text fields, lowered."""
        if self.account_id and self.account_id != line["account_id"]:
            return False
        if (self.direction == "in" and amount <= 0) or (self.direction == "out" and amount >= 0):
            return False
        size = -amount if amount < 0 else amount
        if (self.low is not None and size < self.low) or (
            self.high is not None and size > self.high
        ):
            return False
        if not self.conditions:
            return True
        for fields, operator, value in self.conditions:
            hit = _test(texts, fields, operator, value)
            if hit != self.every:
                return hit  # any: the first hit decides; all: the first miss does
        return self.every


def _test(texts: dict[str, str], fields: tuple[str, ...], operator: str, value: str) -> bool:
    for name in fields:
        text = texts[name]
        if operator == "contains":
            if value in text:
                return True
        elif operator == "equals":
            if text == value:
                return True
        elif text.startswith(value):
            return True
    return False


async def load(ctx: Ctx) -> list[Compiled]:
    """The company's enabled rules in the order they apply."""
    rules = await ctx.store.find(
        "bank_feed_rules",
        ctx.scope(enabled=True),
        sort=[("priority", 1), ("created_at", 1)],
    )
    return [_compile(rule) for rule in rules]


def _compile(rule: dict[str, Any]) -> Compiled:
    conditions = tuple(
        (
            TEXT_FIELDS if c["field"] == "any_text" else (c["field"],),
            c["operator"],
            c["value"].lower(),
        )
        for c in rule.get("conditions") or []
    )
    return Compiled(
        rule,
        rule.get("account_id"),
        rule.get("direction", "any"),
        rule.get("match", "all") == "all",
        conditions,
        _bound(rule.get("amount_min")),
        _bound(rule.get("amount_max")),
    )


def _bound(value: Any) -> int | None:
    # lines are compared in units of 4 places (no currency has more)
    return None if value is None else int(Decimal(str(value)) * 10_000)


def first_match(rules: list[Compiled], line: dict[str, Any]) -> dict[str, Any] | None:
    """The first rule that takes the line."""
    amount = line["amount"] * 10 ** (4 - line["precision"])
    texts = {name: (line.get(name) or "").lower() for name in TEXT_FIELDS}
    for compiled in rules:
        if compiled.matches(line, amount, texts):
            return compiled.rule
    return None


def proposal(rule: dict[str, Any]) -> dict[str, Any]:
    """What the rule proposes for a line (stored on it as `categorisation`)."""
    return {
        "rule_id": rule["_id"],
        "rule_name": rule["name"],
        "category_id": rule.get("category_id"),
        "contact_id": rule.get("contact_id"),
        "tax_id": rule.get("tax_id"),
        "splits": rule.get("splits") or [],
        "auto_create": bool(rule.get("auto_create")),
    }


def allocate(total: int, splits: list[dict[str, Any]], places: int) -> list[int]:
    """Minor units per split of `total` (positive): fixed amounts first, then percentages of
    what is left, the last percentage taking the rounding remainder so the parts add up."""
    parts = [0] * len(splits)
    left = total
    for i, split in enumerate(splits):
        if split.get("amount") is not None:
            parts[i] = to_minor(Decimal(str(split["amount"])), places)
            left -= parts[i]
    if left < 0:
        raise Invalid(
            "the split's fixed amounts exceed the line's amount", code="split_exceeds_amount"
        )
    shared = [i for i, split in enumerate(splits) if split.get("amount") is None]
    if not shared and left:
        raise Invalid(
            "the split's fixed amounts do not add up to the line's amount; add a percentage "
            "for the rest",
            code="split_incomplete",
        )
    given = 0
    for n, i in enumerate(shared):
        if n == len(shared) - 1:
            parts[i] = left - given
        else:
            share = Decimal(left) * Decimal(str(splits[i]["percent"])) / HUNDRED
            parts[i] = int(round_half_up(share, 0))
            given += parts[i]
    return parts
