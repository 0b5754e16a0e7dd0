"""Which MongoDB failures the store reports as `StoreBusyError` (503 `store_busy`, retry)."""

from __future__ import annotations

from pymongo.errors import OperationFailure

from memory.mongo import is_transient


def failure(code: int, labels: list[str]) -> OperationFailure:
    return OperationFailure("failed", code=code, details={"errorLabels": labels, "code": code})


def test_a_write_conflict_is_transient() -> None:
    assert is_transient(failure(112, ["TransientTransactionError"]))


def test_an_unknown_commit_result_is_transient() -> None:
    assert is_transient(failure(50, ["UnknownTransactionCommitResult"]))


def test_other_failures_are_not() -> None:
    assert not is_transient(failure(2, []))
    assert not is_transient(failure(11000, ["RetryableWriteError"]))
