"""The database is away, locked, read-only or full: answer 503, log once per burst.

A database outage is not a bug in the request, so it is not a 500 with a
traceback: every caller gets 503 with ``Retry-After`` and a code saying which kind
of trouble it is, and the log gets one line when the trouble starts (and again if
its kind changes), and one when the database works again, with how many requests
and jobs failed in between. 2,000 failing requests are two log lines, not 2,000
tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from aiohttp import web
from sqlalchemy import exc as sa_exc

from hub import metrics
from hub.api.shapes import Error, ErrorDetail, answer

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Outage:
    code: str
    message: str  # for API clients (English, like the API's other messages)
    message_zh: str  # for people on the web pages
    retry_after: int  # seconds


UNAVAILABLE = Outage("database_unavailable", "the database is unavailable; try again shortly",
                     "系统暂时无法连接数据库，请稍后再试", 10)
LOCKED = Outage("database_locked", "the database stayed locked past the timeout; try again",
                "系统繁忙，请稍后再试", 2)
BUSY = Outage("database_busy", "every database connection is in use; try again shortly",
              "系统繁忙，请稍后再试", 2)
READ_ONLY = Outage("database_read_only", "the database is read-only (maintenance or "
                   "failover); try again later", "系统维护中，暂时不能保存，请稍后再试", 30)
FULL = Outage("database_full", "the database's disk is full; try again later",
              "系统存储空间不足，暂时不能保存，请稍后再试", 60)

_PG_STATES = {"25006": READ_ONLY, "53100": FULL, "53200": BUSY, "53300": BUSY,
              "55P03": LOCKED, "57014": BUSY, "57P01": UNAVAILABLE, "57P02": UNAVAILABLE,
              "57P03": UNAVAILABLE}


def _sqlite(error: sqlite3.Error) -> Outage | None:
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return LOCKED
    if "readonly" in text or "read-only" in text:
        return READ_ONLY
    if "full" in text:
        return FULL
    if "disk i/o" in text or "unable to open" in text:
        return UNAVAILABLE
    return None  # "no such table", constraint errors and the like are bugs, not outages


def classify(error: BaseException | None) -> Outage | None:
    """The kind of database trouble behind ``error`` (its cause chain included), or
    None when it is something else (a bug, bad data) that must stay loud."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sa_exc.TimeoutError):  # no free connection in the pool
            return BUSY
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return UNAVAILABLE
        if isinstance(error, sqlite3.Error):
            return _sqlite(error)
        if isinstance(error, psycopg.Error):
            state = getattr(error, "sqlstate", None) or ""
            if state in _PG_STATES:
                return _PG_STATES[state]
            if state.startswith("08") or (isinstance(error, psycopg.OperationalError)
                                          and not state):
                return UNAVAILABLE  # connection exception / could not connect
            return None
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return None


class OutageLog:
    """One log line when database trouble starts, one when it ends (per process)."""

    def __init__(self, quiet_seconds: float = 60.0) -> None:
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._current: Outage | None = None
        self._since = self._last = 0.0
        self._failures = 0

    @property
    def current(self) -> Outage | None:
        return self._current

    def failed(self, outage: Outage, where: str) -> None:
        metrics.DATABASE_ERRORS.labels(outage.code).inc()
        now = time.monotonic()
        with self._lock:
            fresh = self._current is None or now - self._last > self.quiet_seconds
            changed = self._current is not None and self._current.code != outage.code
            if fresh or changed:
                log.error("%s: %s (first seen at %s); answering 503 with Retry-After %d s "
                          "until it recovers", outage.code, outage.message, where,
                          outage.retry_after)
                self._since, self._failures = now, 0
            self._current, self._last = outage, now
            self._failures += 1

    def recovered(self) -> None:
        """Called where the database was just used successfully; cheap when all is well."""
        if self._current is None:
            return
        with self._lock:
            if self._current is None:
                return
            log.warning("the database works again after %.0f s (%s); %d requests or jobs "
                        "failed meanwhile", time.monotonic() - self._since, self._current.code,
                        self._failures)
            self._current = None


OUTAGES = OutageLog()


def outage_response(request: web.Request, outage: Outage) -> web.Response:
    headers = {"Retry-After": str(outage.retry_after)}
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz", "/metrics"):
        return answer(Error(error=ErrorDetail(code=outage.code, message=outage.message,
                                              retry_after=outage.retry_after)),
                      503, headers)
    return web.Response(status=503, headers=headers, content_type="text/html", charset="utf-8",
                        text=f"<!doctype html><meta charset='utf-8'><title>请稍后再试</title>"
                             f"<h1>请稍后再试</h1><p>{outage.message_zh}"
                             f"（约 {outage.retry_after} 秒后）。您填写的内容尚未提交，"
                             "请勿关闭页面，稍后重新提交即可。</p>")


@web.middleware
async def outage_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Database trouble anywhere below becomes a 503 (JSON for the API, a page else)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        outage = classify(exc)
        if outage is None:
            raise
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        OUTAGES.failed(outage, f"{request.method} {route}")
        return outage_response(request, outage)


def report(error: BaseException, where: str, logger: logging.Logger) -> None:
    """For background work (intake batches, pipeline, jobs): an outage is counted in
    the burst; anything else is logged with its traceback, as a bug should be."""
    outage = classify(error)
    if outage is not None:
        OUTAGES.failed(outage, where)
    else:
        logger.error("%s failed", where, exc_info=error)


def guarded(name: str, fn: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    """A scheduled coroutine whose failure is reported once (see ``report``) instead of
    escaping into APScheduler, which would log a traceback per run. Shutdown (Ctrl-C,
    SIGTERM) cancelling a running job is no failure: it ends with one INFO line; the
    job's lease and transaction make an interrupted run safe to repeat."""

    async def run() -> None:
        try:
            await fn()
        except asyncio.CancelledError:
            log.info("scheduled job %s interrupted by shutdown", name)
        except Exception as exc:
            report(exc, f"scheduled job {name}", log)

    run.__name__ = name.replace("-", "_").replace(":", "_")
    return run
