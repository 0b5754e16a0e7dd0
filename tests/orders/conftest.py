"""Fixtures of the orders tests: a fresh company per test and Mallory's objects (the
accounting suite's)."""

from __future__ import annotations

from tests.accounting.conftest import books, new_company, owner, theirs

__all__ = ["books", "new_company", "owner", "theirs"]
