"""The supervisors' review of QR evaluations flagged as possible vote-stuffing
(/supervise/evaluations): flagged evaluations are kept but left out of rankings
until a supervisor accepts them here (hub/lifecycle/evaluations.py)."""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.evaluations import accept, pending
from hub.security.text import parse_id
from hub.web import checked_form, require_staff

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
MAX_ACCEPT = 500


@routes.get("/supervise/evaluations")
@require_staff("supervisor")
async def review_page(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]

    def load() -> list[dict[str, object]]:
        with hub.sessions() as s:
            return pending(s)

    accepted = parse_id(request.query.get("accepted", ""), maximum=MAX_ACCEPT)
    return aiohttp_jinja2.render_template("evaluation_review.html", request, {
        "rows": await hub.run(load),
        "notice": f"已确认 {accepted} 条评议计入排名" if accepted else None})


@routes.post("/supervise/evaluations/accept")
@require_staff("supervisor")
async def accept_selected(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub: Hub = request.app["hub"]
    ids = [i for i in (parse_id(v) for v in form.getall("evaluation_id", [])) if i]
    ids = ids[:MAX_ACCEPT]
    actor = f"supervisor:{request['staff'].username}"

    def run() -> int:
        with transaction(hub.sessions) as s:
            return accept(s, ids, actor)

    done = await hub.run(run)
    log.info("%s accepted %d flagged evaluations", actor, done)
    raise web.HTTPSeeOther(f"/supervise/evaluations?accepted={done}")
