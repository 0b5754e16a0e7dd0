"""Who is acting, in which company: what every company-scoped domain function receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from memory.store import DocumentStore


@dataclass(frozen=True, slots=True)
class Ctx:
    store: DocumentStore
    user_id: str
    company_id: str
    role: str
    # Jobs recorded in this request's writes (`domain.jobs.defer`), enqueued once they have
    # committed by whoever runs the request (the API's routes); the outbox dispatcher
    # enqueues any that were not.
    deferred: list[str] = field(default_factory=list, compare=False)

    def scope(self, **filter: object) -> dict[str, object]:
        """A store filter limited to this company: the only way domain code builds one."""
        return {"company_id": self.company_id, **filter}
