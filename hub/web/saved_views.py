"""我的视图: each staff member saves the inbox filters they use (a name and the
filters, read back through Filters so nothing else is kept) and finds them above
the tabs; at most MAX_VIEWS each."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from sqlalchemy import delete, func, select

from hub.core import Hub
from hub.db import transaction
from hub.models import SavedView, User
from hub.security.text import clean_line, parse_id
from hub.web import checked_form, require_staff
from hub.web.auth import Staff
from hub.web.inbox import render_inbox
from hub.web.inbox_queries import Filters

routes = web.RouteTableDef()
MAX_VIEWS = 20


def _clean_query(raw: str) -> str:
    filters = Filters.from_query(dict(parse_qsl(raw[:1000])))
    return urlencode(filters.as_query(page=1))


@routes.post("/inbox/views")
@require_staff()
async def save_view(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    name = clean_line(str(form.get("name", "")), 40)
    query = _clean_query(str(form.get("back", "")))
    filters = Filters.from_query(dict(parse_qsl(query)))
    if not name:
        return await render_inbox(request, filters, error="请给视图起个名字", status=422)

    def run() -> str | None:
        with transaction(hub.sessions) as s:
            # one save at a time per user (PostgreSQL; SQLite's write transaction already
            # is): two saves of one name at once would both insert (a 500 on the unique
            # name), and saves of many names at once would all pass the count
            s.execute(select(User.id).where(User.id == staff.user_id).with_for_update())
            mine = select(func.count()).select_from(SavedView).where(
                SavedView.user_id == staff.user_id)
            existing = s.scalar(select(SavedView).where(SavedView.user_id == staff.user_id,
                                                        SavedView.name == name))
            if existing is not None:  # the same name again: keep the new filters
                existing.query = query
                return None
            if (s.scalar(mine) or 0) >= MAX_VIEWS:
                return f"最多保存 {MAX_VIEWS} 个视图，请先删除不用的"
            s.add(SavedView(user_id=staff.user_id, name=name, query=query))
            return None

    refused = await hub.run(run)
    if refused:
        return await render_inbox(request, filters, error=refused, status=422)
    raise web.HTTPSeeOther(f"/inbox?{query}")


@routes.post("/inbox/views/{view_id}/delete")
@require_staff()
async def delete_view(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    view_id = parse_id(request.match_info["view_id"])

    def run() -> None:
        with transaction(hub.sessions) as s:  # only one's own: another's id does nothing
            s.execute(delete(SavedView).where(SavedView.id == view_id,
                                              SavedView.user_id == staff.user_id))

    if view_id is not None:
        await hub.run(run)
    raise web.HTTPSeeOther("/inbox")
