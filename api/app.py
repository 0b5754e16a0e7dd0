"""The app factory: settings in, a FastAPI app out, with its services built on start."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

import api
from api import errors, openapi
from api.access_log import AccessLog
from api.middleware import RequestMiddleware
from api.mounting import mount
from api.routing import index_routes
from domain.auth.tokens import TokenConfig
from domain.resources.registry import Registry, registry
from memory.queue import DISPATCH_EVERY_S
from memory.store import DocumentStore
from services import Services, for_api
from settings import Settings, configure_logging, get_settings


def hand_routers() -> list[APIRouter]:
    """The routers written by hand (auth, companies, jobs' streams...): every `api` module
    that has a `router`, in name order. Declared areas need none: `mount` builds theirs."""
    found = []
    for info in sorted(pkgutil.iter_modules(api.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"api.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found += _unnested(router)
    return found


def _unnested(router: APIRouter) -> list[APIRouter]:
    """The routers a module's `router` only groups (no prefix, no dependencies, nothing but
    included routers), so that each joins the app itself: FastAPI matches a router nested
    in another by walking both for every request (a licence-gated AI route paid about a
    third of its time for it, `bench/api_crud.py` GATED)."""
    nested = [getattr(route, "original_router", None) for route in router.routes]
    if router.prefix or router.dependencies or not nested or None in nested:
        return [router]
    return [inner for child in nested if child is not None for inner in _unnested(child)]


def create_app(
    settings: Settings | None = None,
    store: DocumentStore | None = None,
    declarations: Registry | None = None,
) -> FastAPI:
    """`declarations` default to the registry of `domain/`; tests add their own."""
    settings = settings or get_settings()
    token_config = TokenConfig(
        key=settings.jwt_key(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=settings.jwt_ttl_s,
    )

    access_log = AccessLog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every service is built here, once, with the settings (`services.py`); routes reach
        # them through `app.state.services` only. `store` and `redis` are also set on their
        # own for `api/health.py`, which is outside this change: the same objects.
        services = await for_api(settings, store)
        app.state.services = services
        app.state.store, app.state.redis = services.store, services.redis
        flusher = asyncio.create_task(access_log.run())
        every = settings.job_dispatch_every_s
        if every is None:
            every = 0 if settings.env == "test" else DISPATCH_EVERY_S
        dispatcher = asyncio.create_task(dispatch(services, every)) if every else None
        try:
            yield
        finally:
            for task in (flusher, dispatcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await services.close()

    app = FastAPI(
        title="Numbors API",
        version="0.1.0",
        description="Multi-company accounting and ERP with an asynchronous AI layer.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry: nothing here exports traces or metrics, and left
        # on it checks for providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.tokens = token_config
    for router in hand_routers():
        app.include_router(router)
    # Each declared route joins the app's own routes, so the route index buckets it by its
    # path; as one included router, every request would try all of them in turn.
    app.router.routes.extend(mount(declarations or registry()).routes)
    errors.install(app)
    openapi.install(app)
    index_routes(app)
    app.state.access_log = access_log
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # CORS by setting; none by default
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Company-Id", "Last-Event-ID"],
            expose_headers=["X-Request-Id", "Retry-After"],
        )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        access_log=access_log,
        hsts=settings.hsts,
    )
    logging.getLogger("numbors").setLevel(settings.log_level.upper())
    return app


async def dispatch(services: Services, every_s: float) -> None:
    """The job outbox (`memory/queue.py`): at start-up, then every `every_s`."""
    while True:
        if services.queue is not None:
            try:
                await services.queue.dispatch_stranded(services.store)
            except Exception as error:  # Valkey down: the next round tries again
                logging.getLogger("numbors.jobs").warning("job dispatch failed: %r", error)
        await asyncio.sleep(every_s)


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory api.app:app_factory`."""
    configure_logging(get_settings().log_level)
    return create_app()
