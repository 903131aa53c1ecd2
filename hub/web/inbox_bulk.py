"""Bulk actions from the inbox: a dispatcher's 批量交办 and a supervisor's 批量督办.

All or nothing, in one transaction. Afterwards the user is back on the same list
(the form carries its filters) with a notice saying what was done; on a failure the
list is shown again with the same filters, the same boxes ticked and the reason.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseError, CaseService
from hub.security.text import parse_id
from hub.web import checked_form, require_staff
from hub.web.actions import perform
from hub.web.auth import Staff
from hub.web.inbox import render_inbox
from hub.web.inbox_queries import Filters

routes = web.RouteTableDef()
MAX_SELECTED = 200
BULK = {  # action: (role, the form field passed on, notice key, what to call it)
    "assign": ("dispatcher", "unit", "assigned", "批量交办"),
    "urge": ("supervisor", "note", "urged", "批量督办"),
}


def _filters(back: str) -> tuple[Filters, str]:
    """The list's filters as the page sent them back (read as filters, nothing else)."""
    pairs = dict(parse_qsl(back[:1000]))
    filters = Filters.from_query(pairs)
    return filters, urlencode(filters.as_query())


@routes.post("/inbox/bulk")
@require_staff("dispatcher", "supervisor")
async def bulk(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    staff: Staff = request["staff"]
    svc: CaseService = request.app["case_service"]
    action = "assign" if staff.role == "dispatcher" else "urge"
    _, field, done, label = BULK[action]
    filters, query = _filters(str(form.get("back", "")))
    ids = [i for i in (parse_id(v) for v in form.getall("case_id", [])) if i][:MAX_SELECTED]
    value = str(form.get(field, "")).strip()
    if not ids:
        return await render_inbox(request, filters, error=f"{label}：请先勾选工单", status=422)
    if action == "assign" and not value:
        return await render_inbox(request, filters, error=f"{label}：请选择承办单位",
                                  selected=frozenset(ids), status=422)

    def run() -> None:
        with transaction(hub.sessions) as s:  # all or nothing
            for case_id in ids:
                params = {"unit": value, "note": "批量交办"} if action == "assign" \
                    else {"note": value or "请加快办理"}
                perform(svc, s, staff, case_id, action, params)

    try:
        await hub.run(run)
    except CaseError as exc:
        return await render_inbox(request, filters, selected=frozenset(ids),
                                  error=f"{label}未执行（全部回滚）：{exc}", status=exc.status)
    raise web.HTTPSeeOther(f"/inbox?{query}&ok={done}&n={len(ids)}")
