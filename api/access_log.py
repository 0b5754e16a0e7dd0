"""The access log: one JSON line per request, written to stderr in batches.

Through `logging`, each line cost about 7% of a request (a LogRecord, the handler's lock, a
write and a flush). Here a line is appended to a buffer; the buffer goes out in one write
when it holds `max_lines`, when a line arrives `flush_s` after the last write, from the
API's flusher task every `flush_s` while it is idle, and at shutdown. nginx's
`access_log ... buffer= flush=` makes the same trade: a line can be up to `flush_s` late.
It is on when the `numbors.access` logger is enabled for INFO (`NUMBORS_LOG_LEVEL`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import orjson

LOGGER = logging.getLogger("numbors.access")


class AccessLog:
    def __init__(self, flush_s: float = 0.5, max_lines: int = 256):
        self.flush_s = flush_s
        self.max_lines = max_lines
        self._lines: list[bytes] = []
        self._flushed = time.monotonic()

    @property
    def enabled(self) -> bool:
        return LOGGER.isEnabledFor(logging.INFO)

    def write(self, line: dict[str, Any]) -> None:
        self._lines.append(orjson.dumps(line))
        if len(self._lines) >= self.max_lines or time.monotonic() - self._flushed >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        self._flushed = time.monotonic()
        if not self._lines:
            return
        text = b"\n".join(self._lines).decode() + "\n"
        self._lines.clear()
        sys.stderr.write(text)  # looked up now: whatever stderr is at the time
        sys.stderr.flush()

    async def run(self) -> None:
        """Flush every `flush_s` until cancelled (the API's lifespan runs it), then once more."""
        try:
            while True:
                await asyncio.sleep(self.flush_s)
                self.flush()
        finally:
            self.flush()
