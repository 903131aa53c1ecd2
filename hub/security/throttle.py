"""Attempt counters that hold under concurrency and across processes.

Each counter is one ``throttle`` row per hashed key with a fixed window. ``hit``
raises it with a single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (same
SQL on SQLite and PostgreSQL), so checking and counting are one atomic step: of 300
simultaneous attempts exactly ``limit`` see a count within the limit, whatever
the number of processes. Callers reserve an attempt *before* doing the guarded work
(verifying a password, comparing a query code) and give it back with ``undo`` when
the attempt turned out to be harmless (a correct password).

Helpers never commit: the caller's transaction holds the row lock until it ends.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.db import is_postgres
from hub.models import Throttle, utcnow

_table = Throttle.__table__  # type: ignore[attr-defined]
_cleanups = itertools.count()
CLEANUP_EVERY = 200  # hits between deletions of expired rows (per process)


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` attempts per ``window`` for one kind of key."""

    name: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class Hit:
    count: int
    allowed: bool
    retry_after: int  # seconds until the window ends (for Retry-After)


def key_of(secret: str, rule: Limit, *parts: str) -> str:
    """A keyed hash of the rule and its parts: the table never holds an address,
    username or case number in clear, and keys cannot be precomputed."""
    material = "\x1f".join((rule.name, *parts)).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode(), material, hashlib.sha256).hexdigest()


def hit(session: Session, key: str, rule: Limit, now: datetime | None = None) -> Hit:
    """Count one attempt under ``key``; ``allowed`` when it is within the limit."""
    now = now or utcnow()
    dialect = postgresql if is_postgres(session) else sqlite
    expired = _table.c.window_start <= now - rule.window
    stmt = dialect.insert(_table).values(key=key, count=1, window_start=now,
                                         expires_at=now + rule.window)
    moment = _table.c.window_start.type
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
        "count": case((expired, 1), else_=_table.c.count + 1),
        "window_start": case((expired, literal(now, moment)), else_=_table.c.window_start),
        "expires_at": case((expired, literal(now + rule.window, moment)),
                           else_=_table.c.expires_at),
    }).returning(_table.c.count, _table.c.expires_at)
    count, expires_at = session.execute(stmt).one()
    if next(_cleanups) % CLEANUP_EVERY == 0:
        session.execute(delete(Throttle).where(Throttle.expires_at < now - timedelta(hours=1)))
    retry = max(1, int((_aware(expires_at) - now).total_seconds() + 0.999))
    return Hit(count, count <= rule.limit, retry)


def peek(session: Session, key: str, rule: Limit, now: datetime | None = None) -> int:
    """The count in the current window, without raising it."""
    now = now or utcnow()
    row = session.execute(select(Throttle.count, Throttle.window_start)
                          .where(Throttle.key == key)).first()
    if row is None or _aware(row.window_start) <= now - rule.window:
        return 0
    return int(row.count)


def undo(session: Session, key: str) -> None:
    """Give back one reserved attempt (it proved harmless)."""
    session.execute(update(Throttle).where(Throttle.key == key, Throttle.count > 0)
                    .values(count=Throttle.count - 1))


def reset(session: Session, key: str) -> None:
    session.execute(delete(Throttle).where(Throttle.key == key))


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
