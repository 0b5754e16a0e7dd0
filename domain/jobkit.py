"""The job kit: what a conductor needs to be a job's handler, below `conductors/` so that
conductors never import `workers/` (the worker runtime imports this and runs the handlers).

- `JobRun`: the job being run (its record, its input) and its channel back to the client
  (`emit` an event, report `progress`), with the process's services. It is generic in the
  services' type: the kit does not know the container (`services.Services`), the conductor
  that names `JobRun[Services]` does, and sees it fully typed.
- `TransientError`: a failure worth another attempt; the runtime retries it with backoff up
  to `NUMBORS_JOB_MAX_TRIES` attempts.
- `handler(kind)`: registers a conductor's function for the jobs of that kind (`HANDLERS`).

Nothing here knows ARQ: the runtime (`workers/runtime.py`) turns these into ARQ's terms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from domain import jobs
from memory.events import EventPublisher
from memory.store import DocumentStore

S = TypeVar("S")


class TransientError(Exception):
    """A failure worth another attempt (a timeout, a 429 or 5xx from a model endpoint).

    `retry_after` (seconds) is when the source said to come back (a provider's rate limit's
    Retry-After); without it the runtime backs off on its own."""

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class JobRun(Generic[S]):
    job: dict[str, Any]
    store: DocumentStore
    events: EventPublisher
    services: S
    max_tries: int

    @property
    def id(self) -> str:
        return self.job["_id"]

    @property
    def input(self) -> dict[str, Any]:
        return self.job["input"]

    @property
    def last_attempt(self) -> bool:
        """Whether a transient failure now fails the job instead of retrying it."""
        return self.job["attempts"] >= self.max_tries

    async def emit(self, type: str, data: Any) -> str:
        return await self.events.publish(self.id, type, data)

    async def progress(self, value: float, step: str) -> None:
        await jobs.set_progress(self.store, self.id, value)
        await self.emit("progress", {"progress": value, "step": step})


Handler = Callable[[JobRun[Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}
H = TypeVar("H", bound=Handler)


def handler(kind: str) -> Callable[[H], H]:
    def register(fn: H) -> H:
        HANDLERS[kind] = fn
        return fn

    return register
