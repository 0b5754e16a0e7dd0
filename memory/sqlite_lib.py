"""The one SQLite library of the project: SQLite 3.51 from `pysqlite3-binary` where it is
installed (Linux x86-64), else the standard library's `sqlite3` (the same DB-API).

Why: Debian 12's SQLite is 3.40, and a store write evaluates a `json_extract` of the
document for every indexed field of every index it touches; from 3.45 SQLite keeps the
parsed document for the statement, and 3.51 costs about 30% less CPU per indexed write
(measured here: a contact and its audit event, 573 us against 400 us a write).

Every module that opens the store's database imports `sqlite3` from here, never the
standard library's: two copies of SQLite in one process that open the same file each keep
their own POSIX locks, and closing a file in one silently drops the other's locks
(https://www.sqlite.org/howtocorrupt.html, 2.2.1).
"""

from __future__ import annotations

try:
    from pysqlite3 import dbapi2 as sqlite3  # type: ignore[import-not-found,import-untyped]
except ImportError:  # pragma: no cover - a platform without the wheel
    import sqlite3

__all__ = ["sqlite3"]
