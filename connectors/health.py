"""Source health: last success, last error, lag, items per day, quarantine, pause, and
the scheduled pull's lease (running where, last started, stuck or late, and why)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hub.core import Hub
from hub.jobs import lease_states
from hub.models import Appeal, QuarantinedItem, Source, utcnow
from hub.privacy import mask_text


def source_health(hub: Hub) -> list[dict[str, Any]]:
    now = utcnow()
    with hub.sessions() as s:
        per_day = dict(s.execute(select(Appeal.source_id, func.count())
                                 .where(Appeal.created_at >= now - timedelta(days=1))
                                 .group_by(Appeal.source_id)).all())
        newest = dict(s.execute(select(Appeal.source_id, func.max(Appeal.received_at))
                                .group_by(Appeal.source_id)).all())
        held = dict(s.execute(select(QuarantinedItem.source_id, func.count())
                              .where(QuarantinedItem.replayed_at.is_(None))
                              .group_by(QuarantinedItem.source_id)).all())
        leases = lease_states(s, now)
        out = []
        for src in s.scalars(select(Source).order_by(Source.name)):
            lease = leases.get(f"pull:{src.name}")
            latest = newest.get(src.id)
            out.append({
                "name": src.name, "kind": src.kind, "title": src.title,
                "enabled": src.enabled, "checkpoint": src.checkpoint,
                "last_success_at": src.last_success_at, "last_error_at": src.last_error_at,
                "last_error": mask_text(src.last_error) if src.last_error else None,
                "consecutive_failures": src.consecutive_failures,
                "paused_until": src.paused_until if src.paused_until and src.paused_until > now
                else None,
                "lag_minutes": round((now - latest).total_seconds() / 60) if latest else None,
                "items_last_day": per_day.get(src.id, 0), "quarantined": held.get(src.id, 0),
                "pull": None if lease is None else {
                    "state": lease.state, "holder": lease.holder,
                    "last_started_at": lease.started_at, "last_finished_at": lease.finished_at,
                    "stuck": lease.stuck},
            })
    return out
