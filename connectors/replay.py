"""Recovering quarantined items and re-reading sources, from the CLI and the admin page
alike; each action and its audit event (``SourceEvent``) commit together.

- ``replay``: parse the stored bytes again (once the parser or the config is fixed).
- ``refetch``: download the item again and parse that (a page cut off in transit is
  a transport fault, not a parser bug).
- ``reset_source``: move a source's checkpoint back so the next pull re-reads from
  a date or from the start; the only way a checkpoint moves backwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from connectors.base import Abort, BadItem, CannotRefetch, RetryLater
from connectors.registry import connector_class
from connectors.runner import NotPullable, make_connector
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.models import QuarantinedItem, Source, SourceEvent, utcnow
from hub.privacy import mask_text
from hub.queue import enqueue


class ReplayError(ValueError):
    """The item cannot be recovered (yet); the reason says why."""


def parse_raw(hub: Hub, source: Source, raw: bytes) -> dict[str, Any]:
    """Fields from raw bytes: the connector's own ``parse`` or, for push sources, JSON."""
    cls = connector_class(source.kind)
    if cls is not None:
        try:
            spec = hub.config.source(source.name)
        except KeyError:
            raise ReplayError(f"source {source.name!r} is no longer in sources.toml") from None
        return cls(source.name, spec.options, None).parse(raw)
    try:
        fields = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadItem(f"still not JSON: {exc}", raw) from None
    if not isinstance(fields, dict):
        raise BadItem("still not a JSON object", raw)
    return fields


def replay(hub: Hub, item_id: int, actor: str = "cli", raw: bytes | None = None,
           action: str = "replay") -> int:
    """Queue a quarantined item again (from ``raw`` when it was downloaded again);
    returns the appeal id. A failure updates the item's reason, with an event too."""
    with transaction(hub.sessions) as s:
        item = s.get(QuarantinedItem, item_id)
        if item is None:
            raise ReplayError(f"no quarantined item {item_id}")
        if item.replayed_at is not None:
            raise ReplayError(f"item {item_id} was already replayed")
        source = s.get(Source, item.source_id)
        assert source is not None
        if raw is not None:
            item.raw = raw  # the newest bytes are the ones worth keeping
        try:
            appeal = validate_item(parse_raw(hub, source, item.raw), hub.config.earliest)
        except (BadItem, ItemError) as exc:
            reason = exc.reason if isinstance(exc, BadItem) else f"{exc.code}: {exc.message}"
            item.reason = f"{reason} ({action} {utcnow():%Y-%m-%d %H:%M})"
            s.add(SourceEvent(source_id=source.id, item_id=item.id, actor=actor, action=action,
                              note=f"仍无法解析：{reason}"[:2000]))
            s.commit()
            raise ReplayError(f"still cannot be parsed: {reason}") from None
        [queued] = enqueue(s, source.id, [appeal])
        item.replayed_at = utcnow()
        s.add(SourceEvent(source_id=source.id, appeal_id=queued.id, item_id=item.id,
                          actor=actor, action=action,
                          note="已入队" if queued.created else "该条目已在队列中"))
        return queued.id


async def refetch(hub: Hub, item_id: int, http: aiohttp.ClientSession,
                  actor: str = "cli") -> int:
    """Download a quarantined item again and queue it; returns the appeal id."""

    def load() -> tuple[str, bytes]:
        with hub.sessions() as s:
            item = s.get(QuarantinedItem, item_id)
            if item is None:
                raise ReplayError(f"no quarantined item {item_id}")
            if item.replayed_at is not None:
                raise ReplayError(f"item {item_id} was already replayed")
            source = s.get(Source, item.source_id)
            assert source is not None
            return source.name, item.raw

    name, raw = await hub.run(load)
    try:
        connector = make_connector(hub, name, http)
        fresh = await connector.refetch(raw)
    except NotPullable as exc:
        raise ReplayError(f"cannot download it again: {exc}") from None
    except CannotRefetch as exc:
        raise ReplayError(str(exc)) from None
    except BadItem as exc:
        raise ReplayError(exc.reason) from None
    except (RetryLater, Abort) as exc:
        raise ReplayError(f"the download failed: {exc}") from None
    return await hub.run(replay, hub, item_id, actor, fresh, "refetch")


def reset_source(hub: Hub, name: str, since: datetime | None,
                 actor: str = "cli") -> dict[str, Any]:
    """Make the next pull of ``name`` re-read from ``since`` (or the start)."""
    connector = make_connector(hub, name, None)
    checkpoint = connector.reset_checkpoint(since)
    note = connector.reset_note(since)
    with transaction(hub.sessions) as s:
        src = s.scalar(select(Source).where(Source.name == name))
        if src is None:
            raise NotPullable(f"source {name!r} is not in the database yet: run `hub init`")
        before, src.checkpoint = src.checkpoint, checkpoint
        s.add(SourceEvent(source_id=src.id, actor=actor, action="reset", note=note,
                          data={"before": before, "after": checkpoint,
                                "since": since.isoformat() if since else None}))
    return {"source": name, "checkpoint_before": before, "checkpoint": checkpoint,
            "next_pull": note}


@dataclass(frozen=True)
class QuarantineFilter:
    source: str | None = None
    reason: str | None = None  # a part of the reason, any case
    since: datetime | None = None
    include_replayed: bool = False
    limit: int = 100


def list_quarantine(hub: Hub, wanted: QuarantineFilter) -> list[dict[str, Any]]:
    """Quarantined items, newest first: id, source, external id, reason, when, size."""
    query = (select(QuarantinedItem.id, Source.name, QuarantinedItem.external_id,
                    QuarantinedItem.reason, QuarantinedItem.created_at,
                    func.length(QuarantinedItem.raw), QuarantinedItem.replayed_at)
             .join(Source, Source.id == QuarantinedItem.source_id)
             .order_by(QuarantinedItem.id.desc()).limit(wanted.limit))
    if wanted.source:
        query = query.where(Source.name == wanted.source)
    if wanted.reason:
        query = query.where(QuarantinedItem.reason.icontains(wanted.reason, autoescape=True))
    if wanted.since:
        query = query.where(QuarantinedItem.created_at >= wanted.since)
    if not wanted.include_replayed:
        query = query.where(QuarantinedItem.replayed_at.is_(None))
    with hub.sessions() as s:
        return [{"id": id_, "source": src, "external_id": ext, "reason": mask_text(reason),
                 "created_at": at, "size": size, "replayed_at": replayed}
                for id_, src, ext, reason, at, size, replayed in s.execute(query)]


async def replay_item(app: web.Application, item_id: int, actor: str = "web") -> int:
    hub: Hub = app["hub"]
    return await hub.run(replay, hub, item_id, actor)
