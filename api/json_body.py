"""The one JSON body parser of the API, with documented limits.

Every JSON request body (`application/json` or `application/*+json`) is read through
`parse`, whichever route serves it: `RequestMiddleware` checks it as the endpoint reads it
(so routes FastAPI solves itself are covered too) and leaves the parsed value in the
request's scope, where the lean route path (`api/routing.py`) takes it without parsing
twice. A body that breaks a limit is a 400 before any endpoint sees it:

- **Nesting**: at most `MAX_DEPTH` (64) levels of objects and arrays. Deeper is 400
  `validation_error` (`[[1]]` is two levels).
- **Numbers**: an integer must fit 64 bits (-2^63 to 2^63 - 1) and no number may have more
  than `MAX_DIGITS` (40) digits, nor be too large for a double (`1e400`): 400
  `validation_error`. `NaN` and `Infinity` are not JSON: 400 `malformed_json`.
- **Text**: UTF-8 JSON text, or 400 `malformed_json` naming the line and column.

Numbers are parsed as Python's `json` parses them (integers exact, others as floats): the
field types of `domain/fields.py` then decide what each field accepts.

Speed: a body with no run of 19 digits cannot hold an integer beyond 64 bits nor a number
of more than 40 digits, so orjson reads it (about 1 us instead of 20); any other body, and
any body orjson refuses, goes through the checking parser, which also words the error.
"""

from __future__ import annotations

import json
import math
import re
from email.message import Message
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Scope

MAX_DEPTH = 64
MAX_DIGITS = 40
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_STATE_KEY = "numbors.json_body"
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


class BodyRefused(HTTPException):
    """A JSON body the API does not read: 400 with its own error code (`api/errors.py`)."""

    def __init__(self, code: str, message: str):
        super().__init__(400, message)
        self.code = code


class _Limit(ValueError):
    """Raised inside the parser's hooks; becomes a `BodyRefused`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _too_many_digits() -> _Limit:
    return _Limit(
        "validation_error",
        f"a number in the request body has more than {MAX_DIGITS} digits (the limit)",
    )


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_DIGITS:
        raise _too_many_digits()
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise _Limit(
            "validation_error",
            f"the integer {text} in the request body is beyond 64 bits (-2^63 to 2^63-1)",
        )
    return value


def _float(text: str) -> float:
    mantissa = text.partition("e")[0].partition("E")[0]
    if sum(c.isdigit() for c in mantissa) > MAX_DIGITS:
        raise _too_many_digits()
    value = float(text)
    if not math.isfinite(value):
        raise _Limit("validation_error", f"the number {text} in the request body is out of range")
    return value


def _constant(name: str) -> Any:
    raise _Limit("malformed_json", f"the request body is not valid JSON: {name} is not a number")


def _deeper_than(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _too_deep() -> BodyRefused:
    return BodyRefused(
        "validation_error",
        f"the request body nests objects and arrays deeper than {MAX_DEPTH} levels (the limit)",
    )


def parse(raw: bytes) -> Any:
    """The JSON value of `raw`, or `BodyRefused` (400) when it breaks a limit above."""
    if _LONG_DIGITS.search(raw) is None:
        try:
            return _shallow_enough(raw, orjson.loads(raw))
        except orjson.JSONDecodeError:
            pass  # the checking parser finds what is wrong and says it
    try:
        data = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Limit as error:
        raise BodyRefused(error.code, str(error)) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        message = f"the request body is not valid JSON: {error.msg} ({where})"
        raise BodyRefused("malformed_json", message) from None
    except UnicodeDecodeError:
        raise BodyRefused(
            "malformed_json", "the request body is not valid JSON: not UTF-8 text"
        ) from None
    except RecursionError:
        raise _too_deep() from None
    return _shallow_enough(raw, data)


def _shallow_enough(raw: bytes, data: Any) -> Any:
    # A body with fewer brackets than the limit cannot be deeper: most skip the walk.
    if (
        isinstance(data, dict | list)
        and raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
        and _deeper_than(data, MAX_DEPTH)
    ):
        raise _too_deep()
    return data


def is_json(content_type: str | None) -> bool:
    """As FastAPI decides it: `application/json` or `application/*+json`, parameters aside."""
    if not content_type:
        return False
    if content_type == "application/json":
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def check(scope: Scope, raw: bytes) -> None:
    """Parse a JSON body as it is read (`RequestMiddleware`) and keep the value for `parsed`."""
    scope.setdefault("state", {})[_STATE_KEY] = (raw, parse(raw))


def parsed(scope: Scope, raw: bytes) -> Any:
    """The value of the JSON body `raw`: the one `check` kept, else parsed now."""
    kept = scope.get("state", {}).get(_STATE_KEY)
    if kept is not None and kept[0] == raw:
        return kept[1]
    return parse(raw)
