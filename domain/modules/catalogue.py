"""Every module of the platform: the spec areas it covers and whether it can be switched off.

Core modules carry the books themselves; switching them off would leave a company unable
to record what it owes, so they are part of every licence and cannot be disabled.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    alias: str
    name: str
    description: str
    tags: tuple[str, ...]
    core: bool = False


CATALOGUE: tuple[Module, ...] = (
    Module(
        "contacts",
        "Contacts",
        "Customers, suppliers, employees and other contacts.",
        ("Contacts",),
        core=True,
    ),
    Module(
        "accounting",
        "Accounting",
        "Chart of accounts, journal, accounts, transactions, transfers, categories, taxes "
        "and currencies.",
        (
            "Accounting",
            "Accounts",
            "Transactions",
            "Transfers",
            "Categories",
            "Taxes",
            "Currencies",
        ),
        core=True,
    ),
    Module(
        "invoicing",
        "Invoicing",
        "Invoices, bills, estimates, credit notes and items.",
        ("Documents", "Estimates", "Credit Notes", "Items"),
        core=True,
    ),
    Module(
        "inventory", "Inventory", "Warehouses, stock transfers and adjustments.", ("Inventory",)
    ),
    Module("projects", "Projects", "Projects, tasks and time tracking.", ("Projects",)),
    Module("payroll", "Payroll", "Employees, pay runs and payslips.", ("Payroll",)),
    Module(
        "pos", "Point of Sale", "Registers, sessions and sales at the counter.", ("Point of Sale",)
    ),
    Module("crm", "CRM", "Leads, deals, pipelines and activities.", ("CRM",)),
    Module(
        "contracts",
        "Contracts & Proposals",
        "Contracts and proposals with their lifecycle.",
        ("Contracts & Proposals",),
    ),
    Module("helpdesk", "Helpdesk", "Tickets with SLAs, replies and escalations.", ("Helpdesk",)),
    Module("orders", "Orders", "Sales and purchase orders.", ("Orders",)),
    Module("banking", "Banking", "Bank feeds, imports and reconciliation.", ("Banking",)),
    Module(
        "support",
        "Support Chat",
        "AI support chat for customers, with escalation.",
        ("Support Chat",),
    ),
    Module(
        "tai",
        "Tai",
        "The Tai dev-lifecycle assistant: features, sprints, bug fixing, seeds.",
        ("Tai Bugfixer", "Tai Dev Lifecycle", "Tai Features", "Tai Seed Conductor", "Tai Sprints"),
    ),
    Module(
        "ai-insights",
        "AI Insights",
        "AI analysis of reports, shared memory, audit.",
        ("AI Insights",),
    ),
    Module("compliance", "Compliance", "Compliance checks and reports.", ("Compliance",)),
)

BY_ALIAS: dict[str, Module] = {m.alias: m for m in CATALOGUE}
CORE: frozenset[str] = frozenset(m.alias for m in CATALOGUE if m.core)
