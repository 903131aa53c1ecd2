"""Source health, as `hub sources` and /admin/sources show it: every failure and every
warning visible without reading logs.

Two different ages, named plainly:

- ``lag_minutes``: how long since the source last delivered successfully (a pulled
  source: its last pull that finished without error; a push or internal one: its
  last item). A growing lag means the channel is not reaching the hub.
- ``newest_item_age_minutes``: how old its newest item is, by the time the channel
  gave it. A quiet board can have old items and no lag.

The scheduled pull's lease shows where it runs, when it last started and whether
it is stuck or late, and why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from connectors.registry import connector_class
from hub.core import Hub
from hub.jobs import lease_states
from hub.models import Appeal, QuarantinedItem, Source, utcnow
from hub.privacy import mask_text


def _minutes(now: datetime, then: datetime | None) -> int | None:
    return round((now - then).total_seconds() / 60) if then else None


def source_health(hub: Hub) -> list[dict[str, Any]]:
    now = utcnow()
    with hub.sessions() as s:
        per_day = dict(s.execute(select(Appeal.source_id, func.count())
                                 .where(Appeal.created_at >= now - timedelta(days=1))
                                 .group_by(Appeal.source_id)).all())
        newest = dict(s.execute(select(Appeal.source_id, func.max(Appeal.received_at))
                                .group_by(Appeal.source_id)).all())
        arrived = dict(s.execute(select(Appeal.source_id, func.max(Appeal.created_at))
                                 .group_by(Appeal.source_id)).all())
        held = dict(s.execute(select(QuarantinedItem.source_id, func.count())
                              .where(QuarantinedItem.replayed_at.is_(None))
                              .group_by(QuarantinedItem.source_id)).all())
        leases = lease_states(s, now)
        out = []
        for src in s.scalars(select(Source).order_by(Source.name)):
            lease = leases.get(f"pull:{src.name}")
            pulled = connector_class(src.kind) is not None
            delivered = src.last_success_at if pulled else arrived.get(src.id)
            paused = src.paused_until if src.paused_until and src.paused_until > now else None
            if not src.enabled:
                status = "disabled"
            elif paused:
                status = "paused"
            elif src.consecutive_failures:
                status = "failing"
            elif lease is not None and lease.stuck:
                status = "stuck"
            elif src.last_warning:
                status = "warning"
            elif pulled and src.last_success_at is None:
                status = "never pulled"
            else:
                status = "ok"
            out.append({
                "name": src.name, "kind": src.kind, "title": src.title,
                "enabled": src.enabled, "status": status, "checkpoint": src.checkpoint,
                "last_success_at": src.last_success_at, "last_error_at": src.last_error_at,
                "last_error": mask_text(src.last_error) if src.last_error else None,
                "last_warning_at": src.last_warning_at,
                "last_warning": mask_text(src.last_warning) if src.last_warning else None,
                "consecutive_failures": src.consecutive_failures, "paused_until": paused,
                "lag_minutes": _minutes(now, delivered),
                "newest_item_age_minutes": _minutes(now, newest.get(src.id)),
                "items_last_day": per_day.get(src.id, 0), "quarantined": held.get(src.id, 0),
                "pull": None if lease is None else {
                    "state": lease.state, "holder": lease.holder,
                    "last_started_at": lease.started_at, "last_finished_at": lease.finished_at,
                    "stuck": lease.stuck},
            })
    return out
