"""Fixtures of the seed tests: the accounting suite's `owner`, who opens companies."""

from __future__ import annotations

from tests.accounting.conftest import owner

__all__ = ["owner"]
