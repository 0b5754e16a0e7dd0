"""Facts: the only numbers an analysis may state, computed from a report by plain code.

A fact is `{"key", "label", "value", "unit"}` with `unit` one of money (the report's base
currency, at its precision), percent (one decimal), ratio (two decimals) or count. Labels are
the phrases a narrative uses for the figure ("Net profit", "Change in Sales"): the validator
matches a wrong figure to the fact its phrase names. Findings are the headline observations,
each written from templates and pointing at the facts that support it, so they are true
whichever provider narrates the summary.

Arithmetic is Decimal throughout; report amounts arrive as JSON numbers that print exactly
(see `domain.money.to_number`), so `Decimal(str(x))` recovers them without float error.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

Fact = dict[str, Any]
Finding = dict[str, Any]

PERCENT_PLACES = 1
RATIO_PLACES = 2
TOP = 3
BUCKET_LABELS = {
    "current": "Not yet due",
    "1-30": "1 to 30 days overdue",
    "31-60": "31 to 60 days overdue",
    "61-90": "61 to 90 days overdue",
    "90+": "More than 90 days overdue",
}
# Day counts the ageing buckets are named by: the only numbers a narrative may put before "days".
DAY_WORDS = frozenset({1, 30, 31, 60, 61, 90})


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def quantize(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number(value: Decimal, places: int) -> float | int:
    """A Decimal as the JSON number it prints as (an int at 0 places)."""
    q = quantize(value, places)
    return int(q) if places == 0 else float(q)


def format_number(value: Any, places: int, signed: bool = True) -> str:
    v = quantize(dec(value), places)
    if not signed:
        v = abs(v)
    return f"{v:,.{places}f}"


class Facts:
    """Collects facts for one report, with the formatting every consumer shares."""

    def __init__(self, currency: str, places: int):
        self.currency = currency
        self.places = places
        self.items: list[Fact] = []
        self.findings: list[Finding] = []

    def money(self, key: str, label: str, value: Any, entity: str | None = None) -> Fact:
        return self._add(key, label, number(dec(value), self.places), "money", entity)

    def percent(
        self, key: str, label: str, part: Decimal, whole: Decimal, entity: str | None = None
    ) -> Fact | None:
        if whole == 0:
            return None
        value = number(part * 100 / abs(whole), PERCENT_PLACES)
        return self._add(key, label, value, "percent", entity)

    def ratio(self, key: str, label: str, part: Decimal, whole: Decimal) -> Fact | None:
        if whole == 0:
            return None
        return self._add(key, label, number(part / whole, RATIO_PLACES), "ratio")

    def count(self, key: str, label: str, value: int) -> Fact:
        return self._add(key, label, int(value), "count")

    def _add(
        self, key: str, label: str, value: float | int, unit: str, entity: str | None = None
    ) -> Fact:
        fact: Fact = {"key": key, "label": label, "value": value, "unit": unit}
        if entity is not None:
            fact["entity"] = entity  # the account, contact or item the fact is about
        self.items.append(fact)
        return fact

    def text(self, fact: Fact, signed: bool = True) -> str:
        return render(fact, self.currency, self.places, signed)

    def find(self, title: str, text: str, *facts: Fact | None) -> None:
        self.findings.append(
            {"title": title, "text": text, "facts": [f["key"] for f in facts if f is not None]}
        )


def render(fact: Fact, currency: str, places: int, signed: bool = True) -> str:
    """A fact as a narrative writes it: `1,234.50 USD`, `12.5%`, `0.42`, `3`."""
    unit = fact["unit"]
    if unit == "money":
        return f"{format_number(fact['value'], places, signed)} {currency}"
    if unit == "percent":
        return f"{format_number(fact['value'], PERCENT_PLACES, signed)}%"
    if unit == "ratio":
        return format_number(fact["value"], RATIO_PLACES, signed)
    return str(fact["value"] if signed else abs(fact["value"]))


def digest(facts: list[Fact]) -> str:
    """sha256 of the canonical JSON of the facts (sorted keys, no whitespace)."""
    return hashlib.sha256(orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _direction(change: Decimal) -> str:
    return "rose" if change > 0 else "fell" if change < 0 else "did not change"


def _change(
    f: Facts, key: str, label: str, now: Any, then: Any
) -> tuple[Fact, Fact | None, Decimal]:
    delta = dec(now) - dec(then)
    money = f.money(f"{key}_change", f"Change in {label.lower()}", delta)
    pct = f.percent(f"{key}_change_pct", f"Change in {label.lower()} (%)", delta, dec(then))
    return money, pct, delta


def _change_sentence(f: Facts, label: str, money: Fact, pct: Fact | None, delta: Decimal) -> str:
    if delta == 0:
        return f"{label} did not change against the comparison period."
    by = f.text(money, signed=False)
    if pct is not None:
        by += f" ({f.text(pct, signed=False)})"
    return f"{label} {_direction(delta)} by {by} against the comparison period."


def _movers(
    f: Facts, rows: list[dict[str, Any]], previous: dict[str, Any], prefix: str, what: str
) -> None:
    """The lines that moved most between the periods, with their change and its share."""
    changes = []
    for row in rows:
        before = previous.get(row.get("account_id") or row.get("name"), 0)
        delta = dec(row["amount"]) - dec(before)
        if delta != 0:
            changes.append((abs(delta), row["name"], row["amount"], before, delta))
    changes.sort(key=lambda c: (-c[0], c[1]))
    for i, (_, name, amount, before, delta) in enumerate(changes[:TOP], start=1):
        now = f.money(f"{prefix}_mover_{i}", name, amount, name)
        money = f.money(f"{prefix}_mover_{i}_change", f"Change in {name}", delta, name)
        pct = f.percent(
            f"{prefix}_mover_{i}_change_pct", f"Change in {name} (%)", delta, dec(before), name
        )
        text = f"{name} {_direction(delta)} by {f.text(money, signed=False)}"
        text += f" ({f.text(pct, signed=False)})" if pct is not None else ""
        text += f" to {f.text(now)}."
        f.find(
            f"Largest {what} movement: {name}" if i == 1 else f"Also moved: {name}",
            text,
            now,
            money,
            pct,
        )


def _largest(
    f: Facts, rows: list[dict[str, Any]], total: Any, prefix: str, what: str, top: int = TOP
) -> None:
    ranked = sorted(
        (r for r in rows if dec(r["amount"]) > 0), key=lambda r: (-dec(r["amount"]), r["name"])
    )
    for i, row in enumerate(ranked[:top], start=1):
        amount = f.money(f"{prefix}_{i}", row["name"], row["amount"], row["name"])
        share = f.percent(
            f"{prefix}_{i}_share_pct",
            f"{row['name']} share of {what}",
            dec(row["amount"]),
            dec(total),
            row["name"],
        )
        text = f"{row['name']} accounts for {f.text(amount)}"
        text += f", {f.text(share)} of {what}." if share is not None else "."
        f.find(
            f"Largest {what}: {row['name']}" if i == 1 else f"Among the largest {what}",
            text,
            amount,
            share,
        )


def profit_and_loss(report: dict[str, Any], f: Facts) -> None:
    income = f.money("total_income", "Total income", report["total_income"])
    expenses = f.money("total_expenses", "Total expenses", report["total_expenses"])
    net = f.money("net_profit", "Net profit", report["net_profit"])
    margin = f.percent(
        "net_margin_pct", "Net margin", dec(report["net_profit"]), dec(report["total_income"])
    )
    result = "a net profit" if dec(net["value"]) >= 0 else "a net loss"
    text = (
        f"Income of {f.text(income)} against expenses of {f.text(expenses)} left "
        f"{result} of {f.text(net, signed=False)}"
    )
    text += f", a net margin of {f.text(margin)}." if margin is not None else "."
    f.find("Result for the period", text, income, expenses, net, margin)
    comparison = report.get("comparison")
    if comparison:
        for key, label in (
            ("total_income", "Total income"),
            ("total_expenses", "Total expenses"),
            ("net_profit", "Net profit"),
        ):
            then = f.money(f"previous_{key}", f"Previous {label.lower()}", comparison[key])
            money, pct, delta = _change(f, key, label, report[key], comparison[key])
            f.find(
                f"{label} against the comparison period",
                _change_sentence(f, label, money, pct, delta),
                then,
                money,
                pct,
            )
        rows = report["income"] + report["expenses"]
        previous = {r["account_id"]: r.get("previous", 0) for r in rows}
        _movers(f, rows, previous, "account", "account")
    else:
        _largest(f, report["expenses"], report["total_expenses"], "top_expense", "expenses")
        _largest(f, report["income"], report["total_income"], "top_income", "income", top=1)


def _lines(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**row, "account_id": row.get("account_id") or row["name"]}
        for section in ("assets", "liabilities", "equity")
        for row in report[section]
    ]


def balance_sheet(report: dict[str, Any], previous: dict[str, Any] | None, f: Facts) -> None:
    assets = f.money("total_assets", "Total assets", report["total_assets"])
    liabilities = f.money("total_liabilities", "Total liabilities", report["total_liabilities"])
    equity = f.money("total_equity", "Total equity", report["total_equity"])
    ratio = (
        f.ratio(
            "debt_to_equity",
            "Debt to equity",
            dec(report["total_liabilities"]),
            dec(report["total_equity"]),
        )
        if dec(report["total_equity"]) > 0
        else None
    )
    share = f.percent(
        "equity_share_pct",
        "Equity share of assets",
        dec(report["total_equity"]),
        dec(report["total_assets"]),
    )
    text = (
        f"Assets of {f.text(assets)} are financed by liabilities of {f.text(liabilities)} "
        f"and equity of {f.text(equity)}"
    )
    text += f"; equity is {f.text(share)} of assets" if share is not None else ""
    text += f" and debt to equity is {f.text(ratio)}." if ratio is not None else "."
    f.find("Financial position", text, assets, liabilities, equity, share, ratio)
    if previous is None:
        _largest(f, report["assets"], report["total_assets"], "top_asset", "assets")
        _largest(
            f, report["liabilities"], report["total_liabilities"], "top_liability", "liabilities"
        )
        return
    for key, label in (
        ("total_assets", "Total assets"),
        ("total_liabilities", "Total liabilities"),
        ("total_equity", "Total equity"),
    ):
        then = f.money(f"previous_{key}", f"Previous {label.lower()}", previous[key])
        money, pct, delta = _change(f, key, label, report[key], previous[key])
        f.find(
            f"{label} against the comparison date",
            _change_sentence(f, label, money, pct, delta).replace("period", "date"),
            then,
            money,
            pct,
        )
    before = {r["account_id"]: r["amount"] for r in _lines(previous)}
    now = _lines(report)
    seen = {r["account_id"] for r in now}
    now += [{**r, "amount": 0} for r in _lines(previous) if r["account_id"] not in seen]
    _movers(f, now, before, "line", "balance")


def cash_flow(report: dict[str, Any], previous: dict[str, Any] | None, f: Facts) -> None:
    opening = f.money("opening_cash", "Opening cash", report["opening_cash"])
    inflows = f.money("total_inflows", "Total inflows", report["total_inflows"])
    outflows = f.money("total_outflows", "Total outflows", report["total_outflows"])
    net = f.money("net_change", "Net change in cash", report["net_change"])
    closing = f.money("closing_cash", "Closing cash", report["closing_cash"])
    f.find(
        "Cash movement",
        f"Cash went from {f.text(opening)} to {f.text(closing)}: inflows of {f.text(inflows)} "
        f"and outflows of {f.text(outflows)}, a net change of {f.text(net)}.",
        opening,
        closing,
        inflows,
        outflows,
        net,
    )
    _largest(f, report["inflows"], report["total_inflows"], "top_inflow", "inflows")
    _largest(f, report["outflows"], report["total_outflows"], "top_outflow", "outflows")
    if previous is not None:
        for key, label in (
            ("total_inflows", "Total inflows"),
            ("total_outflows", "Total outflows"),
            ("net_change", "Net change in cash"),
        ):
            then = f.money(f"previous_{key}", f"Previous {label.lower()}", previous[key])
            money, pct, delta = _change(f, key, label, report[key], previous[key])
            f.find(
                f"{label} against the comparison period",
                _change_sentence(f, label, money, pct, delta),
                then,
                money,
                pct,
            )


def aged(report: dict[str, Any], previous: dict[str, Any] | None, f: Facts) -> None:
    receivable = report["kind"] == "receivables"
    noun = "receivables" if receivable else "payables"
    party = "customers" if receivable else "suppliers"
    total = f.money("total_open", f"Open {noun}", report["total"])
    buckets = {
        name: f.money(
            f"bucket_{name.replace('-', '_').replace('+', '_plus')}", BUCKET_LABELS[name], value
        )
        for name, value in report["totals"].items()
    }
    overdue_amount = sum(
        (dec(v) for k, v in report["totals"].items() if k != "current"), Decimal(0)
    )
    overdue = f.money("overdue_total", f"Overdue {noun}", overdue_amount)
    share = f.percent(
        "overdue_share_pct", f"Overdue share of {noun}", overdue_amount, dec(report["total"])
    )
    late = [c for c in report["contacts"] if dec(c["total"]) - dec(c["current"]) > 0]
    count = f.count("overdue_contacts", f"{party.capitalize()} with overdue balances", len(late))
    text = f"Open {noun} total {f.text(total)}, of which {f.text(overdue)} is overdue"
    text += f" ({f.text(share)})" if share is not None else ""
    who = party if len(late) != 1 else party.removesuffix("s")
    text += f", owed {'by' if receivable else 'to'} {count['value']} {who}."
    f.find(f"Open {noun}", text, total, overdue, share, count)
    very_late = buckets["90+"]
    if dec(very_late["value"]) > 0:
        f.find("Long overdue", f"{f.text(very_late)} is more than ninety days overdue.", very_late)
    if late and overdue_amount > 0:
        late.sort(key=lambda c: (-(dec(c["total"]) - dec(c["current"])), c["name"]))
        top = late[0]
        top_amount = dec(top["total"]) - dec(top["current"])
        top_fact = f.money("top_overdue_contact", f"{top['name']} overdue", top_amount, top["name"])
        top_share = f.percent(
            "top_overdue_contact_share_pct",
            f"{top['name']} share of overdue",
            top_amount,
            overdue_amount,
            top["name"],
        )
        text = f"{top['name']} holds {f.text(top_fact)} of the overdue balance"
        text += f", {f.text(top_share)} of it." if top_share is not None else "."
        facts: list[Fact | None] = [top_fact, top_share]
        if len(late) > TOP:
            top3 = sum((dec(c["total"]) - dec(c["current"]) for c in late[:TOP]), Decimal(0))
            top3_share = f.percent(
                "top_three_overdue_share_pct", "Top three share of overdue", top3, overdue_amount
            )
            text += f" The three largest overdue {party} hold {f.text(top3_share)}."
            facts.append(top3_share)
        f.find("Overdue concentration", text, *facts)
    if previous is not None:
        then = f.money("previous_total_open", f"Previous open {noun}", previous["total"])
        money, pct, delta = _change(
            f, "total_open", f"Open {noun}", report["total"], previous["total"]
        )
        f.find(
            f"Open {noun} against the comparison date",
            _change_sentence(f, f"Open {noun}", money, pct, delta).replace("period", "date"),
            then,
            money,
            pct,
        )


def compute(
    kind: str, report: dict[str, Any], previous: dict[str, Any] | None, places: int
) -> tuple[list[Fact], list[Finding]]:
    """The facts and findings of `report` (and of `previous`, the comparison report for
    reports at a date; profit and loss carries its own comparison)."""
    f = Facts(report["currency"], places)
    if kind == "profit_and_loss":
        profit_and_loss(report, f)
    elif kind == "balance_sheet":
        balance_sheet(report, previous, f)
    elif kind == "cash_flow":
        cash_flow(report, previous, f)
    else:
        aged(report, previous, f)
    return f.items, f.findings
