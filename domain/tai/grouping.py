"""Grouping CI failures into bugs: the fingerprint of a failure, after Sentry's.

Precedence (Sentry's, docs.sentry.io/concepts/data-management/event-grouping): an explicit
`fingerprint` sent by CI (its parts, in order; `{{ default }}` in it stands for the
fingerprint Tai would compute) > the in-app frames of the stack trace with the error type >
the error type and the normalised message > the test id. Frames from dependencies and
runtimes (`node_modules`, `site-packages`, `node:internal`, `<frozen ...>`) are left out, so
a failure that differs only below the application groups the same; a frame is its file
(directories and revision hashes dropped) and its function, never its line number, so an
edit above the failing line does not split a bug.

Normalisation replaces what differs between runs of the same failure, in Sentry's order
(`src/sentry/grouping/parameterization.py`): emails, URLs, hostnames, IP addresses, UUIDs,
SHA-1 and MD5 digests, ISO dates and times, other hex numbers, floats, integers. "Invoice
6745a1c2e4b0f3a9d2c81e57 total 118.00 != 120.00 at 2026-11-25T15:20:06Z" and the same
with other values are one bug.

The grouping is versioned (`VERSION` is part of the hash): a new normalisation gets a new
version, and bugs grouped by an older one are never regrouped (Sentry's rule).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

VERSION = "tai-grouping:1"
DEFAULT = "{{ default }}"
MAX_FRAMES = 12

Kind = Literal["fingerprint", "stack", "message", "test"]

PARAMETERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
        ("url", r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+"),
        ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"),
        ("uuid", r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
        ("sha1", r"\b[0-9a-f]{40}\b"),
        ("md5", r"\b[0-9a-f]{32}\b"),
        (
            "date",
            r"\b\d{4}-\d{2}-\d{2}"
            r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
        ),
        ("time", r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"),
        ("hex", r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b"),
        (
            "hostname",
            r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|io|dev|local|internal)\b",
        ),
        ("float", r"(?<![\w.])-?\d+\.\d+(?!\d|\.\d)"),
        ("int", r"(?<![\w.])-?\d+(?!\d|\.\d)"),
    )
)
NOT_IN_APP = re.compile(
    r"node_modules|site-packages|dist-packages|node:internal|<frozen|/usr/lib/|"
    r"\\lib\\python|/lib/python\d|internal/process|<anonymous>",
    re.IGNORECASE,
)
# Python: File "x.py", line 3, in f | JS: at f (file:1:2) / at file:1:2 | Java: at a.B.c(F.java:1)
PY_FRAME = re.compile(r'File "(?P<file>[^"]+)", line \d+, in (?P<function>[\w<>.]+)')
JS_FRAME = re.compile(
    r"^\s*at (?:(?P<function>[^\s(]+(?: \[as \w+\])?) \()?(?P<file>[^\s()]+?)(?::\d+){1,2}\)?\s*$",
    re.MULTILINE,
)
JAVA_FRAME = re.compile(
    r"^\s*at (?P<function>[\w$.<>]+)\((?P<file>[\w$.-]+)(?::\d+)?\)", re.MULTILINE
)
REVISION = re.compile(r"[.-][0-9a-f]{6,}(?=\.)", re.IGNORECASE)


def normalise(text: str) -> str:
    """`text` with its run-to-run values replaced by `<kind>` placeholders, spaces collapsed."""
    for name, pattern in PARAMETERS:
        text = pattern.sub(f"<{name}>", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Frame:
    file: str
    function: str

    def key(self) -> str:
        return f"{self.file}:{self.function}"


def _file(path: str) -> str:
    name = re.split(r"[\\/]", path.split("?")[0])[-1]
    return REVISION.sub("", name)


def in_app(stack: str) -> list[Frame]:
    """The application's own frames (at most `MAX_FRAMES`, the innermost kept)."""
    kept: list[Frame] = []
    for _, path, function in _raw(stack):
        if not NOT_IN_APP.search(path):
            kept.append(Frame(_file(path), function))
    return kept[-MAX_FRAMES:] if _python_order(stack) else kept[:MAX_FRAMES]


def _raw(stack: str) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for pattern in (PY_FRAME, JS_FRAME, JAVA_FRAME):
        for match in pattern.finditer(stack):
            found.append((match.start(), match["file"], match["function"] or "?"))
    return sorted(found)


def _python_order(stack: str) -> bool:
    """Python writes the innermost frame last; JS and Java first."""
    return PY_FRAME.search(stack) is not None


@dataclass(frozen=True)
class Grouping:
    kind: Kind
    components: tuple[str, ...]
    hash: str


def _hash(kind: str, components: Sequence[str]) -> str:
    text = "\n".join((VERSION, kind, *components))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def default_grouping(
    *, stack: str | None, error_type: str | None, message: str | None, test_id: str
) -> Grouping:
    app = in_app(stack or "")
    kind: Kind
    if app:
        kind, components = "stack", (error_type or "", *(f.key() for f in app))
    elif error_type or message:
        kind, components = "message", (error_type or "", normalise(message or ""))
    else:
        kind, components = "test", (test_id,)
    return Grouping(kind, tuple(components), _hash(kind, components))


def group(
    *,
    fingerprint: Sequence[str] | None,
    stack: str | None,
    error_type: str | None,
    message: str | None,
    test_id: str,
) -> Grouping:
    """The grouping of one failure, by Sentry's precedence (see the module docstring)."""
    default = default_grouping(stack=stack, error_type=error_type, message=message, test_id=test_id)
    if not fingerprint:
        return default
    components = tuple(default.hash if part == DEFAULT else part for part in fingerprint)
    return Grouping("fingerprint", components, _hash("fingerprint", components))
