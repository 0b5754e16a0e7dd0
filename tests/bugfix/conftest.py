"""Fixtures of the bug-fix tests: the accounting suite's `owner`, who opens companies."""

from __future__ import annotations

from tests.accounting.conftest import owner

__all__ = ["owner"]
