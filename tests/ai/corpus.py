"""The grounding corpus: truthful and invented narratives over the books of `tests/ai/books.py`.

Each case is (book, class, truthful, text). Truthful narratives state only facts, under
their labels or synonyms, in the words a model would use (approximations within their
precision, numbers in words, dates in words inside the period, a customer called
"Studio 54", figures glued to a currency code or wrapped in markup). Invented ones are one
per way a narrative lies that the issue lists: a real figure under the wrong label, the
wrong sign or direction, the comparison period's figure as the current one, a date outside
the period, a number in words, a figure glued to letters or markup, a range, an
approximation off by more than its precision, an empty completion.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    book: str
    kind: str
    truthful: bool
    text: str


def _t(book: str, kind: str, text: str) -> Case:
    return Case(book, kind, True, text)


def _f(book: str, kind: str, text: str) -> Case:
    return Case(book, kind, False, text)


TRUTHFUL = [
    _t("pnl", "plain", "Net profit was 1,650.00 USD, up from 700.00 USD in the previous period."),
    _t("pnl", "plain", "Revenue rose by 1,900.00 USD to 2,900.00 USD against December."),
    _t("pnl", "plain", "Costs were 1,250 USD, so the net margin came in at 56.9%."),
    _t("pnl", "approximation", "Income was about 2.9k and expenses about 1.3k."),
    _t("pnl", "words", "Income was almost three thousand dollars this month."),
    _t("pnl", "date in words", "In January 2025 net profit was 1,650.00 USD."),
    _t("pnl", "markup", "Net profit was <b>1,650.00 USD</b>, a margin of 56.9%."),
    _t("pnl", "glued", "Net profit was USD1,650.00 against 700.00USD the month before."),
    _t("pnl", "plain", "Rent rose by 500.00 USD (166.7%) and expenses by 950.00 USD overall."),
    _t("pnl", "plain", "Net profit increased 135.7% compared with the prior period."),
    _t("loss", "sign", "The company made a net loss of 800.00 USD on income of 1,000.00 USD."),
    _t("loss", "plain", "Wages were 1,500.00 USD, 83.3% of expenses."),
    _t("loss", "plain", "Expenses of 1,800.00 USD outran revenue, a net margin of -80.0%."),
    _t("balance", "date in words", "By 31 January 2025 total assets had reached 9,350.00 USD."),
    _t("balance", "plain", "Compared with 31 December 2024, total equity rose by 2,850.00 USD."),
    _t("balance", "plain", "Debt to equity is 0.09, with equity at 91.4% of assets."),
    _t("balance", "plain", "Liabilities stand at 800.00 USD, all of it accounts payable."),
    _t("balance", "plain", "Total assets grew 64.0% against the previous date, from 5,700.00 USD."),
    _t("cash", "plain", "Cash rose from 4,700.00 USD to 5,250.00 USD, a net change of 550.00 USD."),
    _t("cash", "direction", "Inflows fell by 80.0% against the previous period."),
    _t("cash", "plain", "Customer payments brought in 1,000.00 USD, all of the inflows."),
    _t("cash", "date", "Between 2025-01-01 and 2025-01-31 outflows were 450.00 USD."),
    _t("aged", "name with a number", "Studio 54 owes 2,500.00 USD, 86.2% of the overdue balance."),
    _t("aged", "synonym", "Receivables past due total 2,900.00 USD."),
    _t("aged", "words", "Two customers have overdue balances."),
    _t("aged", "plain", "1,000.00 USD has been overdue for more than 90 days."),
    _t("aged", "direction", "Open receivables fell by 500.00 USD since 31 January 2025."),
    _t("aged", "plain", "Globex owes the rest; 400.00 USD is 31 to 60 days overdue."),
]

INVENTED = [
    _f("pnl", "wrong label", "Total income was 1,250.00 USD."),
    _f("pnl", "wrong label", "Expenses came to 2,900.00 USD this month."),
    _f("loss", "wrong label", "The net margin was 100.0%."),
    _f("balance", "wrong label", "Total liabilities were 8,550.00 USD."),
    _f("cash", "wrong label", "Outflows were 1,000.00 USD."),
    _f("aged", "wrong entity", "Initech owes 2,500.00 USD, all of it overdue."),
    _f("loss", "sign", "The company made a net profit of 800.00 USD."),
    _f("pnl", "sign", "The business made a net loss of 1,650.00 USD."),
    _f("pnl", "direction", "Total expenses fell by 950.00 USD against the previous period."),
    _f("cash", "direction", "Total inflows rose by 4,000.00 USD compared with December."),
    _f("aged", "direction", "Open receivables rose by 500.00 USD against the comparison date."),
    _f("aged", "nothing overdue", "Nothing is overdue: customers pay on time."),
    _f("pnl", "comparison as current", "Net profit was 700.00 USD."),
    _f("balance", "comparison as current", "Total assets stand at 5,700.00 USD."),
    _f("cash", "comparison as current", "Total inflows were 5,000.00 USD."),
    _f("aged", "comparison as current", "Open receivables total 3,400.00 USD."),
    _f("pnl", "date outside", "On 15 March 2025 net profit was 1,650.00 USD."),
    _f("pnl", "date outside", "Income reached 2,900.00 USD on 2025-06-30."),
    _f("balance", "date outside", "At 31 December 2023 total assets were 9,350.00 USD."),
    _f("cash", "date outside", "In March 2024 closing cash was 5,250.00 USD."),
    _f("pnl", "words", "Net profit was nine thousand dollars."),
    _f("aged", "words", "Studio 54 owes twelve hundred dollars."),
    _f("cash", "words", "Closing cash was four thousand dollars."),
    _f("pnl", "glued", "Net profit was USD1,950."),
    _f("pnl", "glued", "Total income was 2,500USD."),
    _f("pnl", "markup", "Net profit was <b>1,950.00</b> USD."),
    _f("pnl", "range", "Expenses were between 1,000 and 2,000 USD."),
    _f("pnl", "range", "Expenses were 1,000-2,000 USD."),
    _f("pnl", "approximation", "Net profit was about 1k."),
    _f("pnl", "approximation", "Rent came to roughly 600 USD."),
    _f("cash", "approximation", "Outflows were about 1k."),
    _f("pnl", "empty", ""),
    _f("aged", "empty", "   "),
]

# Written after the validator, and run once before any change to it: 2 misses ("Income fell
# to 2,900", the opening and closing cash swapped) and 2 false alarms ("December's 1,000" as
# the comparison, the margin as a share "of its revenue"). The first three are fixed (the
# direction of a level against its change fact, qualifiers that tell facts of one concept
# apart, a month of the comparison period as a comparison word); the last is known.
HELD_OUT = [
    _t("pnl", "plain", "January income of 2,900.00 USD was nearly triple December's 1,000.00 USD."),
    _t("pnl", "plain", "Expenses rose to 1,250.00 USD, up 316.7% on the prior month."),
    _t("pnl", "plain", "Profit for the month came to 1,650 USD."),
    _t("loss", "sign", "Spending of 1,800.00 USD exceeded income, leaving a loss of 800.00 USD."),
    _t("loss", "plain", "Consulting brought in all of the 1,000.00 USD of revenue."),
    _t("balance", "plain", "Equity of 8,550.00 USD funds 91.4% of total assets."),
    _t("balance", "plain", "Checking holds 6,450.00 USD."),
    _t("cash", "date in words", "Closing cash was 5,250.00 USD at 31 January 2025."),
    _t("cash", "plain", "Rent paid of 450.00 USD was the only outflow."),
    _t(
        "aged",
        "name with a number",
        "Of the 2,900.00 USD in open receivables, Studio 54 owes 2,500.00 USD.",
    ),
    _t("aged", "plain", "Overdue receivables are 2,900.00 USD, all of the open balance."),
    _f("pnl", "direction", "Income fell to 2,900.00 USD."),
    _f("pnl", "wrong label", "Expenses of 1,650.00 USD were covered by income."),
    _f("pnl", "wrong label", "Profit margin reached 190.0%."),
    _f("loss", "sign", "The month closed 800.00 USD in the black."),
    _f("balance", "wrong label", "Liabilities rose by 2,850.00 USD."),
    _f("balance", "comparison as current", "Total equity was 5,700.00 USD at 31 January 2025."),
    _f("cash", "direction", "Inflows were up 80.0% against December."),
    _f("cash", "wrong label", "Opening cash of 5,250.00 USD fell to 4,700.00 USD."),
    _f("aged", "wrong entity", "Globex owes 2,500.00 USD."),
    _f("aged", "nothing overdue", "No customer is late paying."),
    _f("aged", "approximation", "Around 2k of receivables is overdue."),
    _f("pnl", "date outside", "Net profit was 1,650.00 USD in February 2025."),
]
# Known false alarm: a margin stated as a share "of its revenue" binds to revenue.
KNOWN_FALSE_ALARMS = [_t("pnl", "plain", "The company kept 56.9% of its revenue as profit.")]

CASES = TRUTHFUL + INVENTED + HELD_OUT
TRUTHFUL = [c for c in CASES if c.truthful]
INVENTED = [c for c in CASES if not c.truthful]
