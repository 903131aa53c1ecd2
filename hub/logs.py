"""Logging: quiet commands, an access log without personal data, JSON for production.

- A command prints what the user asked for: libraries (Alembic, APScheduler) stay
  at WARNING unless ``-v``; a serving process also logs the hub's own INFO lines.
- Every line passes through hub.privacy's MaskingFilter (phones, IDs, e-mail,
  self-introduced names), whatever logged it, so a library quoting a request or
  a row cannot leak them.
- ``HUB_LOG_FORMAT=json``: one JSON object a line (time, level, logger, message,
  and the access log's fields), for journald/Loki/ELK. A dozen lines of our own
  rather than a dependency: the fields are ours and the masking must come first.
- The access log (``hub.access``) names the route, not the query string (case
  look-ups carry their query code there, inbox searches a citizen's name), and no
  client address: nginx keeps that, under its own retention.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import logging.handlers
import queue
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hub.privacy import MaskingFilter

HUB_LOGGERS = ("hub", "connectors", "classifiers")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_FIELDS = ("method", "route", "path", "status", "bytes", "ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ACCESS_FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info or record.exc_text:
            out["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(out, ensure_ascii=False)


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    """Write what is still queued and stop the writer thread (at exit, or before a
    second configure in the same process)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(_stop_listener)


def configure(verbose: bool, serving: bool, log_format: str = "text") -> None:
    global _listener
    handler: logging.Handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    _stop_listener()
    if serving:
        # a serving process never writes a log line on its event loop: a write to a
        # file or pipe can stall (behind SQLite's fsyncs on the same disk, or a slow
        # journald) and a 100 ms stall was most of the intake's p99; the lines go
        # through a queue to a thread that writes them, masked before they leave
        _listener = logging.handlers.QueueListener(queue.SimpleQueue(), handler)
        _listener.start()
        handler = _MaskedQueueHandler(_listener.queue)
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in HUB_LOGGERS:  # a command's own lines only while serving (or with -v)
        logging.getLogger(name).setLevel(
            logging.INFO if serving and not verbose else logging.NOTSET)
    # APScheduler's "adding job tentatively" and per-run lines are INFO; failures are
    # logged by the hub's own wrappers (hub/scheduler.py)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


class _MaskedQueueHandler(logging.handlers.QueueHandler):
    """Hands records to the writing thread with message and traceback already
    formatted (and masked by the filter), keeping the access log's fields."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(
                record.exc_info)
            record.exc_info = None
        return record


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, route, path without query, status, size, time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        match = getattr(request, "match_info", None)
        resource = match.route.resource if match is not None else None
        route = resource.canonical if resource is not None else "unmatched"
        fields = {"method": request.method, "route": route, "path": request.path,
                  "status": response.status, "bytes": response.body_length,
                  "ms": round(time * 1000, 1)}
        self.logger.info("%s %s %s %s %.1fms", request.method, request.path, response.status,
                         response.body_length, time * 1000, extra=fields)


def startup_line(settings: Any) -> str:
    """What a starting `hub serve` tells the operator: who it is and what it runs."""
    from sqlalchemy.engine import make_url

    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    return (f"hub serve {settings.instance_name}: database {database}, pipeline "
            f"{'on' if settings.pipeline_enabled else 'off'}, scheduler "
            f"{'on' if settings.scheduler_enabled else 'off'}, leases "
            f"{settings.lease_seconds:.0f} s, log {settings.log_format}")
