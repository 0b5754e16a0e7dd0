"""Who is acting, in which company: what every company-scoped domain function receives."""

from __future__ import annotations

from dataclasses import dataclass

from memory.store import DocumentStore


@dataclass(frozen=True, slots=True)
class Ctx:
    store: DocumentStore
    user_id: str
    company_id: str
    role: str

    def scope(self, **filter: object) -> dict[str, object]:
        """A store filter limited to this company: the only way domain code builds one."""
        return {"company_id": self.company_id, **filter}
