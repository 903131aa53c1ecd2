"""The one durable queue: every appeal is a row in ``appeal`` before anyone is told
it was received, exactly once per (source, external id).

Helpers here never commit; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from hub.db import insert_ignoring_conflicts, is_postgres
from hub.intake_schema import AppealIn
from hub.models import Appeal, QuarantinedItem, utcnow


@dataclass(frozen=True)
class Enqueued:
    id: int
    created: bool
    # the external id was stored before with different content: the item was not
    # written (the intake API answers 409 with the existing id)
    conflict: bool = False


def _content(title: str, body: str, name: str | None, phone: str | None,
             location: str | None, raw: Any) -> tuple[Any, ...]:
    extra = raw.get("extra") if isinstance(raw, dict) else None
    return (title, body, name or None, phone or None, location or None, extra)


def _item_content(item: AppealIn) -> tuple[Any, ...]:
    return _content(item.title, item.body, item.contact_name, item.contact_phone,
                    item.location, item.raw)


def _same_time(item: AppealIn, stored: datetime) -> bool:
    """A replay that leaves received_at out matches whatever time was stored."""
    if not (isinstance(item.raw, dict) and item.raw.get("received_at")):
        return True
    aware = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    return abs((aware - item.received_at).total_seconds()) < 1


def enqueue(session: Session, source_id: int, items: list[AppealIn]) -> list[Enqueued]:
    """Write items; results follow input order. The same item again answers with the
    existing id (``created`` False); the same external id with different content
    (title, body, contact, location, extra, an explicit received_at) is a conflict,
    never a silent overwrite or a silent drop. Votes may change between replays."""
    if not items:
        return []
    unique: dict[str, AppealIn] = {}
    for item in items:
        unique.setdefault(item.external_id, item)
    # rows in key order: concurrent transactions then lock the same keys in the same
    # order and cannot deadlock (the intake runs several at once on PostgreSQL)
    inserted = insert_ignoring_conflicts(
        session, Appeal.__table__, [unique[k].row(source_id) for k in sorted(unique)],
        ["source_id", "external_id"], [Appeal.__table__.c.id, Appeal.__table__.c.external_id])
    new_ids = {ext: id_ for id_, ext in inserted}
    missing = [ext for ext in unique if ext not in new_ids]
    existing: dict[str, int] = {}
    stored: dict[str, tuple[tuple[Any, ...], datetime]] = {}
    for start in range(0, len(missing), 500):
        chunk = missing[start:start + 500]
        for row in session.execute(
                select(Appeal.id, Appeal.external_id, Appeal.title, Appeal.body,
                       Appeal.contact_name, Appeal.contact_phone, Appeal.location,
                       Appeal.raw, Appeal.received_at).where(
                    Appeal.source_id == source_id, Appeal.external_id.in_(chunk))):
            existing[row.external_id] = row.id
            stored[row.external_id] = (_content(row.title, row.body, row.contact_name,
                                                row.contact_phone, row.location, row.raw),
                                       row.received_at)
    results: list[Enqueued] = []
    first_seen: set[str] = set()
    for item in items:
        ext = item.external_id
        if ext in new_ids and ext not in first_seen:
            first_seen.add(ext)
            results.append(Enqueued(new_ids[ext], True))
            continue
        if ext in new_ids:  # a repeat inside this call: compare with the one written
            first = unique[ext]
            same = _item_content(item) == _item_content(first) and \
                _same_time(item, first.received_at)
        else:
            content, received = stored[ext]
            same = _item_content(item) == content and _same_time(item, received)
        results.append(Enqueued(new_ids.get(ext) or existing[ext], False, conflict=not same))
    return results


def quarantine(session: Session, source_id: int, raw: bytes, reason: str,
               external_id: str | None = None) -> int:
    """Keep an unparseable item with its raw bytes and the reason.

    A page read again (after a crash or a retry) brings the same bad item again:
    while the first copy waits for replay, the repeat is not stored twice; an item
    with an id that fails again (a page cut off at another point) replaces the bytes
    and reason of its waiting copy.
    """
    if external_id is not None:
        waiting = session.scalar(select(QuarantinedItem).where(
            QuarantinedItem.source_id == source_id, QuarantinedItem.replayed_at.is_(None),
            QuarantinedItem.external_id == external_id).order_by(QuarantinedItem.id).limit(1))
        if waiting is not None:
            if waiting.raw != raw:
                waiting.raw, waiting.reason = raw, reason[:2000]
            assert waiting.id is not None
            return waiting.id
    else:
        existing = session.scalar(select(QuarantinedItem.id).where(
            QuarantinedItem.source_id == source_id, QuarantinedItem.replayed_at.is_(None),
            QuarantinedItem.raw == raw, QuarantinedItem.external_id.is_(None)).limit(1))
        if existing is not None:
            return existing
    item = QuarantinedItem(source_id=source_id, external_id=external_id, raw=raw,
                           reason=reason[:2000])
    session.add(item)
    session.flush()
    assert item.id is not None
    return item.id


def claim(session: Session, worker: str, limit: int, lease: timedelta,
          now: datetime | None = None) -> list[Appeal]:
    """Lease up to ``limit`` queued appeals (or ones whose lease ran out) to ``worker``.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets several processes claim side by side.
    SQLite: the transaction holds the database write lock (BEGIN IMMEDIATE), which
    serialises claimers just as safely.
    """
    now = now or utcnow()
    claimable = or_(Appeal.state == "queued",
                    and_(Appeal.state == "processing", Appeal.lease_until < now))
    pick = select(Appeal.id).where(claimable).order_by(Appeal.id).limit(limit)
    if is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.scalars(pick))
    if not ids:
        return []
    session.execute(update(Appeal).where(Appeal.id.in_(ids)).values(
        state="processing", lease_until=now + lease, claimed_by=worker,
        attempts=Appeal.attempts + 1))
    return list(session.scalars(select(Appeal).where(Appeal.id.in_(ids)).order_by(Appeal.id)))


def finish(session: Session, worker: str, ids: list[int]) -> list[int]:
    """Mark claimed appeals done; returns the ids this worker still held.

    An appeal whose lease ran out and was taken by another worker is left to it,
    so a slow worker can never create a second case for the same appeal.
    """
    if not ids:
        return []
    rows = session.execute(
        update(Appeal).where(Appeal.id.in_(ids), Appeal.state == "processing",
                             Appeal.claimed_by == worker)
        .values(state="done", lease_until=None).returning(Appeal.id))
    return [r[0] for r in rows]


def release(session: Session, worker: str, ids: list[int]) -> None:
    """Give claimed appeals back to the queue (e.g. on shutdown)."""
    if ids:
        session.execute(update(Appeal).where(
            Appeal.id.in_(ids), Appeal.claimed_by == worker, Appeal.state == "processing")
            .values(state="queued", lease_until=None, claimed_by=None))
