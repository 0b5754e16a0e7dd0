"""The pure parts of bank feeds: statement parsing and keys, rule conditions, split
allocation (a property: the parts always add up to the line) and suggestion scores."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.bankfeeds import rules, statements
from domain.bankfeeds.matching import OpenDocuments
from domain.bankfeeds.statements import StatementError, parse_camt, parse_csv, parse_ofx
from tests.bankfeeds.support import fixture

MAPPING: dict[str, Any] = {
    "date": "Date",
    "date_format": "%Y-%m-%d",
    "description": "Text",
    "amount": "Amount",
    "id": None,
    "delimiter": ",",
}


def two_accounts() -> str:
    """The checking statement with a second account's statement in the same file."""
    text = fixture("checking.ofx")
    start = text.index("<STMTTRNRS>")
    end = text.index("</STMTTRNRS>") + len("</STMTTRNRS>")
    other = text[start:end].replace("111222333", "999888777").replace("<TRNAMT>3.15", "<TRNAMT>7")
    return text[:end] + "\n" + other + text[end:]


def test_an_ofx_file_of_two_accounts_is_read_for_the_account_number() -> None:
    content = two_accounts()
    with pytest.raises(StatementError, match="111222333, 999888777"):
        parse_ofx(content, "USD")
    mine = parse_ofx(content, "USD", "999-888-777")
    assert len(mine) == 5 and mine[-1].amount == Decimal(7)
    assert parse_ofx(content, "USD", "111222333")[-1].amount == Decimal("3.15")


def test_unreadable_files_say_what_is_wrong() -> None:
    with pytest.raises(StatementError, match="not a readable OFX"):
        parse_ofx("hello", "USD")
    with pytest.raises(StatementError, match="statement is in USD"):
        parse_ofx(fixture("checking.ofx"), "EUR")
    with pytest.raises(StatementError, match="not readable XML"):
        parse_camt("<Document>", "EUR")
    with pytest.raises(StatementError, match="no BkToCstmrStmt"):
        parse_camt("<Document/>", "EUR")
    with pytest.raises(StatementError, match="EUR account"):
        parse_camt(fixture("camt053-day1.xml"), "USD")
    with pytest.raises(StatementError, match="no column 'Amount'"):
        parse_csv("Date,Text\n2026-01-01,x\n", MAPPING)
    with pytest.raises(StatementError, match="row 3: 'abc' is not an amount"):
        parse_csv("Date,Text,Amount\n2026-01-01,x,1\n2026-01-02,y,abc\n", MAPPING)
    with pytest.raises(StatementError, match="row 2"):
        parse_csv("Date,Text,Amount\n01/02/2026,x,1\n", MAPPING)


def test_csv_keys_use_the_bank_id_or_a_fingerprint_with_its_occurrence() -> None:
    content = "Date,Text,Amount,Ref\n2026-01-01,Coffee,-4.5,A1\n2026-01-01,Coffee,-4.50,A2\n"
    by_id = parse_csv(content, {**MAPPING, "id": "Ref"})
    assert [e.key for e in by_id] == ["csv:A1", "csv:A2"]
    printed = parse_csv(content, MAPPING)
    assert printed[0].key != printed[1].key  # identical purchases stay two
    assert [e.key for e in parse_csv(content, MAPPING)] == [e.key for e in printed]


def test_camt_keys_are_qualified_by_statement_and_date() -> None:
    day1 = parse_camt(fixture("camt053-day1.xml"), "EUR")
    day2 = parse_camt(fixture("camt053-day2.xml"), "EUR")
    assert day1[0].key == "camt:STMT-20261116:2026-11-16:BR-2026-11-16-0001"
    assert day2[0].key == "camt:STMT-20261117:2026-11-17:1"  # only NtryRef: qualified
    assert day1[1].pending and day1[1].pending_ref == day2[1].replaces == "camt-ref:BR-777"


@given(
    total=st.integers(min_value=1, max_value=10**12),
    fixed=st.lists(st.integers(min_value=1, max_value=10**6), max_size=3),
    shares=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=4),
)
def test_split_parts_always_add_up_to_the_line(
    total: int, fixed: list[int], shares: list[int]
) -> None:
    if sum(fixed) > total:
        return
    # percentages totalling exactly 100: the last takes what the others leave
    percents = [Decimal(s) / Decimal(len(shares) + 1) for s in shares[:-1]]
    percents.append(Decimal(100) - sum(percents))
    if percents[-1] <= 0:
        return
    splits = [{"amount": Decimal(f) / 100} for f in fixed] + [{"percent": p} for p in percents]
    parts = rules.allocate(total, splits, 2)
    assert sum(parts) == total
    assert parts[: len(fixed)] == fixed
    assert all(p >= 0 for p in parts)


def test_fixed_splits_must_cover_the_line_without_percentages() -> None:
    assert rules.allocate(1000, [{"amount": 4}, {"amount": 6}], 2) == [400, 600]
    with pytest.raises(Exception, match="do not add up"):
        rules.allocate(1000, [{"amount": 4}], 2)
    with pytest.raises(Exception, match="exceed"):
        rules.allocate(100, [{"amount": 4}], 2)


def compiled(**rule: Any) -> rules.Compiled:
    return rules._compile({"_id": "r", "name": "r", **rule})


def feed_line(description: str, amount: int, **more: Any) -> dict[str, Any]:
    return {"account_id": "a", "amount": amount, "precision": 2, "description": description, **more}


def test_rule_conditions_directions_and_amounts() -> None:
    starts = compiled(
        conditions=[{"field": "description", "operator": "starts_with", "value": "AWS"}]
    )
    assert rules.first_match([starts], feed_line("aws emea", -100))
    assert not rules.first_match([starts], feed_line("pay aws", -100))
    money_in = compiled(direction="in", amount_min=10, amount_max=20)
    assert rules.first_match([money_in], feed_line("x", 1500))
    assert not rules.first_match([money_in], feed_line("x", -1500))
    assert not rules.first_match([money_in], feed_line("x", 2001))
    other_account = compiled(account_id="b", amount_min=0)
    assert not rules.first_match([other_account], feed_line("x", 1))
    anywhere = compiled(conditions=[{"field": "any_text", "operator": "equals", "value": "r-9"}])
    assert rules.first_match([anywhere], feed_line("x", 1, reference="R-9"))
    first, second = compiled(amount_min=0), compiled(amount_min=0)
    assert rules.first_match([first, second], feed_line("x", 1)) is first.rule


def document(number: str, due: int, **more: Any) -> dict[str, Any]:
    return {
        "_id": number,
        "type": "invoice",
        "number": number,
        "currency": "USD",
        "due": due,
        "precision": 2,
        "contact_name": "Acme",
        "issued_at": "2026-11-01",
        "due_at": "2026-11-30",
        **more,
    }


def test_suggestions_are_scored_and_ranked() -> None:
    index = OpenDocuments()
    for doc in (
        document("INV-1", 10000),
        document("INV-2", 10000, issued_at="2025-01-01", due_at="2025-01-31"),
        document("INV-3", 50000),
        document("INV-4", 5000),
    ):
        index.add(doc)
    line = {"amount": 10000, "currency": "USD", "date": "2026-11-20", "pending": False}
    found = index.suggest({**line, "description": "ACME pays INV-3 in part"})
    assert [(s["number"], s["confidence"], s["reasons"]) for s in found] == [
        ("INV-1", 0.7, ["amount", "contact", "date"]),
        ("INV-3", 0.5, ["number", "contact", "date"]),  # a part payment of INV-3
        ("INV-2", 0.45, ["amount", "contact"]),  # outside its dates: -0.2
    ]  # INV-4 is due less than the line: never suggested
    assert index.suggest({**line, "amount": 20000, "description": "x"}) == []
    assert index.suggest({**line, "amount": -10000, "description": "x"}) == []  # bills only
    assert statements.Entry  # the module's dataclass is importable for callers
