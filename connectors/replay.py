"""Replaying a quarantined item once its parser is fixed: parse the stored raw
bytes again with the source's connector and, if they now pass, queue the item
and mark the quarantine row replayed, in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from connectors.base import BadItem
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.models import QuarantinedItem, Source, utcnow
from hub.queue import enqueue


class ReplayError(ValueError):
    """The item still cannot be parsed; its reason is updated."""


def parse_raw(hub: Hub, source: Source, raw: bytes) -> dict[str, Any]:
    """Fields from raw bytes: the connector's own ``parse`` or, for push sources, JSON."""
    from connectors.runner import CONNECTORS

    connector_cls = CONNECTORS.get(source.kind)
    if connector_cls is not None:
        spec = hub.config.source(source.name)
        return connector_cls(source.name, spec.options, None).parse(raw)  # type: ignore[arg-type]
    try:
        fields = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadItem(f"still not JSON: {exc}", raw) from None
    if not isinstance(fields, dict):
        raise BadItem("still not a JSON object", raw)
    return fields


def replay(hub: Hub, item_id: int) -> int:
    """Queue a quarantined item again; returns the appeal id."""
    with transaction(hub.sessions) as s:
        item = s.get(QuarantinedItem, item_id)
        if item is None:
            raise ReplayError(f"no quarantined item {item_id}")
        if item.replayed_at is not None:
            raise ReplayError(f"item {item_id} was already replayed")
        source = s.get(Source, item.source_id)
        assert source is not None
        try:
            appeal = validate_item(parse_raw(hub, source, item.raw), hub.config.earliest)
        except (BadItem, ItemError) as exc:
            reason = exc.reason if isinstance(exc, BadItem) else f"{exc.code}: {exc.message}"
            item.reason = f"{reason} (replay {utcnow():%Y-%m-%d %H:%M})"
            s.commit()
            raise ReplayError(f"still cannot be parsed: {reason}") from None
        [queued] = enqueue(s, source.id, [appeal])
        item.replayed_at = utcnow()
        return queued.id


async def replay_item(app: web.Application, item_id: int) -> int:
    hub: Hub = app["hub"]
    return await hub.run(replay, hub, item_id)
