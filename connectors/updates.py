"""Items read again: a thread whose reply or text changed upstream updates the stored
appeal's raw data, with an event, and never becomes a second appeal.

The appeal's own columns (body, title) stay as they were when it was routed; the
channel's current version is its raw data, and the event keeps what it replaced,
so dispatchers see a department's reply on a board as soon as the board shows it.
Helpers here never commit; the runner's transaction holds them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.intake_schema import AppealIn
from hub.models import Appeal, QuarantinedItem, SourceEvent, utcnow

CONTENT = ("body", "title", "location")  # a change here is news for the dispatcher
QUIET_EXTRA = {"stamp", "url"}  # list marks and addresses: kept, never an event
KEPT_CHARS = 2000  # of each replaced value, in the event


def content_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the fields whose content differs ("body", "extra.reply", ...)."""
    changed = [k for k in CONTENT if old.get(k) != new.get(k)]
    old_extra, new_extra = old.get("extra") or {}, new.get("extra") or {}
    for key in sorted(set(old_extra) | set(new_extra)):
        if key not in QUIET_EXTRA and old_extra.get(key) != new_extra.get(key):
            changed.append(f"extra.{key}")
    return changed


def _before(old: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in changed:
        value = (old.get("extra") or {}).get(name[6:]) if name.startswith("extra.") \
            else old.get(name)
        out[name] = value[:KEPT_CHARS] if isinstance(value, str) else value
    return out


def apply_updates(session: Session, source_id: int, items: list[AppealIn]) -> int:
    """Store what changed in items already queued; returns how many carried news."""
    if not items:
        return 0
    latest = {item.external_id: item for item in items}
    rows = {a.external_id: a for a in session.scalars(select(Appeal).where(
        Appeal.source_id == source_id, Appeal.external_id.in_(sorted(latest))))}
    updated = 0
    for external_id, item in latest.items():
        appeal = rows.get(external_id)
        if appeal is None or (appeal.raw or {}) == item.raw:
            continue
        old = dict(appeal.raw or {})
        changed = content_changes(old, item.raw)
        appeal.raw = dict(item.raw)
        appeal.votes = item.votes
        if changed:
            updated += 1
            session.add(SourceEvent(
                source_id=source_id, appeal_id=appeal.id, actor="pull", action="upstream_update",
                note="渠道内容有更新：" + "、".join(changed),
                data={"changed": changed, "before": _before(old, changed)}))
    return updated


def resolve_recovered(session: Session, source_id: int, external_ids: list[str]) -> int:
    """Quarantined copies of items a later pull has now queued: marked done, with an
    event (a page cut off in transit and whole the next time recovers by itself)."""
    if not external_ids:
        return 0
    held = list(session.scalars(select(QuarantinedItem).where(
        QuarantinedItem.source_id == source_id, QuarantinedItem.replayed_at.is_(None),
        QuarantinedItem.external_id.in_(sorted(set(external_ids))))))
    now = utcnow()
    for item in held:
        item.replayed_at = now
        session.add(SourceEvent(source_id=source_id, item_id=item.id, actor="pull",
                                action="recovered",
                                note=f"read whole by a later pull ({item.external_id})"))
    return len(held)
