"""The admin's view of every channel: its health (failures, warnings that items may
have been skipped, lag), its quarantined items with filters, and the operator's
actions, the same as the CLI's: replay an item, download it again, reset a source
to re-read from a date. Each action commits with its audit event (SourceEvent),
and the page lists the latest events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from connectors.health import source_health
from connectors.registry import connector_class
from connectors.replay import (
    QuarantineFilter,
    ReplayError,
    list_quarantine,
    refetch,
    replay,
    reset_source,
)
from connectors.runner import NotPullable
from hub.core import Hub
from hub.intake_schema import parse_datetime
from hub.jobs import lease_states
from hub.models import QuarantinedItem, Source, SourceEvent
from hub.privacy import mask_text
from hub.scheduler import interval_jobs
from hub.security.text import parse_id
from hub.web import checked_form, require_staff

routes = web.RouteTableDef()
STATUS_LABELS = {"ok": "正常", "warning": "可能漏读", "failing": "拉取失败", "paused": "已暂停",
                 "stuck": "拉取卡住",
                 "never pulled": "尚未拉取", "disabled": "已停用"}
EVENT_LABELS = {"upstream_update": "渠道内容更新", "replay": "重放", "refetch": "重新下载",
                "recovered": "后续拉取已补齐", "reset": "重新读取"}


def _page_data(hub: Hub, wanted: QuarantineFilter) -> dict[str, Any]:
    sources = source_health(hub)
    for row in sources:
        row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
        row["pulled"] = connector_class(row["kind"]) is not None
    items = list_quarantine(hub, wanted)
    with hub.sessions() as s:
        titles = dict(s.execute(select(Source.name, Source.title)).all())
        ids = [i["id"] for i in items]
        previews = dict(s.execute(select(QuarantinedItem.id, QuarantinedItem.raw)
                                  .where(QuarantinedItem.id.in_(ids))).all()) if ids else {}
        names = dict(s.execute(select(Source.id, Source.title)).all())
        events = [{"at": e.at, "source": names.get(e.source_id, ""), "actor": e.actor,
                   "action": EVENT_LABELS.get(e.action, e.action), "appeal": e.appeal_id,
                   "item": e.item_id, "note": mask_text(e.note or "")}
                  for e in s.scalars(select(SourceEvent).order_by(SourceEvent.id.desc())
                                     .limit(50))]
        jobs = [st.as_dict() for st in lease_states(s, only=interval_jobs(hub)).values()]
    for item in items:
        item["source_title"] = titles.get(item["source"], item["source"])
        item["preview"] = mask_text(previews.get(item["id"], b"")[:200]
                                    .decode("utf-8", "replace"))
    return {"sources": sources, "quarantine": items, "events": events, "jobs": jobs,
            "filters": wanted, "source_names": sorted(titles)}


@routes.get("/admin/sources")
@require_staff("admin")
async def sources_page(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    q = request.query
    wanted = QuarantineFilter(source=q.get("source") or None,
                              reason=(q.get("reason") or "").strip()[:100] or None,
                              include_replayed=q.get("pending") != "1", limit=200)
    return aiohttp_jinja2.render_template("admin_sources.html", request,
                                          await hub.run(_page_data, hub, wanted))


def _refused(request: web.Request, heading: str, message: str,
             status: int = 422) -> web.StreamResponse:
    return aiohttp_jinja2.render_template("error.html", request,
                                          {"heading": heading, "message": message},
                                          status=status)


def _item_id(request: web.Request) -> int:
    item_id = parse_id(request.match_info["item_id"])
    if item_id is None:  # not ASCII digits, or beyond the id column
        raise web.HTTPNotFound()
    return item_id


@routes.post("/admin/quarantine/{item_id}/replay")
@require_staff("admin")
async def replay_item(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub: Hub = request.app["hub"]
    try:
        await hub.run(replay, hub, _item_id(request), request["staff"].username)
    except ReplayError as exc:
        return _refused(request, "重放失败", str(exc))
    raise web.HTTPSeeOther("/admin/sources")


@routes.post("/admin/quarantine/{item_id}/refetch")
@require_staff("admin")
async def refetch_item(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub: Hub = request.app["hub"]
    try:
        await refetch(hub, _item_id(request), request.app["http"], request["staff"].username)
    except ReplayError as exc:
        return _refused(request, "重新下载失败", str(exc))
    raise web.HTTPSeeOther("/admin/sources")


@routes.post("/admin/sources/{name}/reset")
@require_staff("admin")
async def reset(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    text = str(form.get("since", "")).strip()
    since: datetime | None = None
    if text:
        try:
            since = parse_datetime(text)
        except ValueError:
            return _refused(request, "未重新读取", f"日期格式不对：{text}（例如 2026-11-20）")
    try:
        await hub.run(reset_source, hub, request.match_info["name"], since,
                      request["staff"].username)
    except NotPullable as exc:
        return _refused(request, "未重新读取", str(exc))
    raise web.HTTPSeeOther("/admin/sources")
