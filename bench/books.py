"""Books built through the domain layer, for the benchmarks that measure the domain
itself: a registered company and objects created as the API creates them."""

from __future__ import annotations

from typing import Any

from domain import resources
from domain.auth import accounts as users
from domain.auth.tokens import TokenConfig
from domain.context import Ctx
from memory.store import DocumentStore

SECRET = "bench-" + "0" * 40
PASSWORD = "bench-password-0123456789"


async def company(store: DocumentStore, name: str, email: str, base_currency: str = "USD") -> Ctx:
    """A registered owner acting in a new company."""
    config = TokenConfig(key=SECRET, issuer="numbors", audience="numbors-api", ttl_s=86400)
    registered = await users.register(
        store,
        config,
        users.Registration(
            email=email,
            password=PASSWORD,
            name="Bench",
            company_name=name,
            base_currency=base_currency,
        ),
    )
    return Ctx(store, registered["user"]["id"], registered["company"]["id"], "owner")


async def create(
    ctx: Ctx, resource: resources.Resource, data: dict[str, Any], parent: str | None = None
) -> dict[str, Any]:
    """As the API creates: the payload validated by the resource's own Create model."""
    payload = resource.create.model_validate(data).model_dump(mode="json", exclude_none=True)
    return await resources.create_document(ctx, resource, payload, parent)
