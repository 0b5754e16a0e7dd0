"""Job payloads as msgpack (ids and plain values), never ARQ's default pickle."""

from __future__ import annotations

from typing import Any

import msgpack


def dumps(value: dict[str, Any]) -> bytes:
    # ARQ also stores a job's outcome, which may be an exception: keep its text, not the object.
    return msgpack.packb(value, use_bin_type=True, default=repr)


def loads(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False)
