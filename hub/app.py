"""The one app factory, used by ``hub serve``, ``hub demo`` and the tests.

Resources are opened and closed with the app (aiohttp cleanup contexts): the
database and its thread pool, the intake writer, the router, the pipeline worker,
an HTTP client session for connectors, and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from hub import memory
from hub.api import appeals, openapi, ops
from hub.api.errors import api_errors
from hub.bootstrap import api_keys
from hub.core import Hub
from hub.intake import IntakeWriter
from hub.lifecycle.service import CaseService
from hub.outage import outage_middleware
from hub.pipeline import Pipeline
from hub.security.clients import client_middleware, parse_networks
from hub.security.headers import security_headers
from hub.security.urls import url_guard
from hub.settings import Settings, load_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or load_settings()
    memory.limit_arenas()  # process-wide and idempotent; before the pools' threads start
    # outermost first: every answer is counted and carries the security headers (errors
    # included); the client's real address is known before any handler or limit reads
    # it; API errors become JSON; database trouble below becomes a 503 with Retry-After
    # before anything calls it a bug
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[
        ops.request_metrics, security_headers, url_guard,
        client_middleware(parse_networks(settings.trusted_proxies)), api_errors,
        outage_middleware])
    app["settings"] = settings
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(ops.metrics_ctx)
    app.cleanup_ctx.append(_intake_ctx)
    app.cleanup_ctx.append(_router_ctx)
    app.cleanup_ctx.append(_gc_ctx)
    app.cleanup_ctx.append(_memory_ctx)
    app.cleanup_ctx.append(_http_ctx)
    app.cleanup_ctx.append(_pipeline_ctx)
    app.cleanup_ctx.append(_scheduler_ctx)
    app.add_routes(appeals.routes)
    app.add_routes(openapi.routes)
    app.add_routes(ops.routes)
    _add_optional_routes(app)
    return app


def _add_optional_routes(app: web.Application) -> None:
    """The citizens' case API (staff pages come with the web inbox, issue 6)."""
    from hub.api import cases, ledger, open311
    from hub.web import setup_web

    app.add_routes(cases.routes)
    app.add_routes(ledger.routes)
    app.add_routes(open311.routes)
    setup_web(app)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings: Settings = app["settings"]
    hub = await asyncio.to_thread(Hub.open, settings)
    app["hub"] = hub
    app["api_keys"] = api_keys(hub.config, settings)
    app["case_service"] = CaseService(hub.config, hub.unit_ids)
    from hub.web.auth import LoginLimiter

    # shared by every process: the counters are rows in the database
    app["login_limiter"] = LoginLimiter(hub.sessions, settings.secret_key)
    yield
    await asyncio.to_thread(hub.close)


async def _intake_ctx(app: web.Application) -> AsyncIterator[None]:
    writer = IntakeWriter(app["hub"])
    writer.start()
    app["intake"] = writer
    yield
    await writer.stop()


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    from classifiers.router import load_router

    hub: Hub = app["hub"]
    app["router"] = await hub.run(load_router, hub)
    yield


async def _memory_ctx(app: web.Application) -> AsyncIterator[None]:
    """Freed memory goes back to the system once a minute (hub/memory.py says why)."""
    task = memory.start_trimming()
    yield
    if task is not None:
        task.cancel()


async def _gc_ctx(app: web.Application) -> AsyncIterator[None]:
    """Warm up, then move everything loaded so far out of the collector's sight.

    The router, its model and the segmenter's dictionary are millions of long-lived
    objects; a full collection walked them all, 40-150 ms with the event loop
    stopped (measured in a soak; most such pauses came at start-up, and the intake's
    tail had larger causes). Frozen (gc.freeze), they are never scanned again;
    requests' garbage still is."""
    hub: Hub = app["hub"]
    await hub.run(app["router"].route_many, ["A1区幸福路路灯不亮，晚上出行不便"])
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(headers={"User-Agent": "hub/0.1 (+citizen appeals intake)"})
    app["http"] = session
    yield
    await session.close()


async def _pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    hub: Hub = app["hub"]
    pipeline = Pipeline(hub, app["router"])
    app["pipeline"] = pipeline
    task = asyncio.create_task(pipeline.run_forever()) if hub.settings.pipeline_enabled else None
    app["pipeline_task"] = task  # /readyz: is the worker alive?
    yield
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    hub: Hub = app["hub"]
    if not hub.settings.scheduler_enabled:
        yield
        return
    from hub.health import SchedulerBeat
    from hub.scheduler import build_scheduler

    app["scheduler_beat"] = SchedulerBeat()
    scheduler = build_scheduler(app)
    scheduler.start()
    app["scheduler"] = scheduler
    yield
    scheduler.shutdown(wait=False)
