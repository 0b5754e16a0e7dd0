"""Job payloads as msgpack (ids and plain values), never ARQ's default pickle."""

from __future__ import annotations

from typing import Any

import msgpack


def dumps(value: dict[str, Any]) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def loads(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False)
