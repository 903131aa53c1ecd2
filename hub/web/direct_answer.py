"""The call form's knowledge-base steps: 查找知识库 shows the articles matching what
the operator typed (nothing is filed, the form keeps its fields), and 直接答复
answers the caller from the chosen article (hub/knowledge/direct.py), then shows the
receipt like any other logged call (post/redirect/get)."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.api.open311 import json_text
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.knowledge import assistant
from hub.knowledge.direct import answer_directly
from hub.knowledge.store import search
from hub.lifecycle.service import CaseError, CaseService, new_query_code
from hub.models import utcnow
from hub.security.text import parse_id
from hub.web import citizen_session, require_staff, surges
from hub.web.auth import Staff
from hub.web.staff import DESK_SOURCE


async def knowledge_step(request: web.Request, form: Any, fields: dict[str, str],
                         intent: str) -> web.StreamResponse:
    hub = request.app["hub"]
    staff: Staff = request["staff"]
    svc: CaseService = request.app["case_service"]
    tz = svc.calendar.tz

    def found() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return search(s, f"{fields['title']} {fields['body']}", utcnow().astimezone(tz).date())

    async def again(error: str | None = None, status: int = 200) -> web.StreamResponse:
        return aiohttp_jinja2.render_template("call_new.html", request, {
            "surges": await surges.banners(request), "form": fields,
            "articles": await hub.run(found), "error": error}, status=status)

    if intent == "search":
        return await again()
    article_id = parse_id(str(form.get("article", "")))
    if article_id is None:
        return await again("请先选择用于答复的知识", 422)
    code = new_query_code()
    try:
        item = validate_item({**{k: v for k, v in fields.items() if v},
                              "external_id": f"{DESK_SOURCE}-{uuid.uuid4().hex}"})
    except ItemError as exc:
        return await again(f"无法登记：{exc.message}", 422)
    item.raw = {"query_code": code, "entered_by": DESK_SOURCE, "direct_answer": article_id}

    def run() -> str:
        with transaction(hub.sessions) as s:
            case = answer_directly(svc, s, hub.source_ids[DESK_SOURCE], item, article_id,
                                   f"{staff.role}:{staff.username}")
            return case.number

    try:
        number = await hub.run(run)
    except CaseError as exc:
        return await again(str(exc), exc.status)
    return citizen_session.redirect(request, "/calls/new?done=1&direct=1",
                                    citizen_session.RECEIPT, number, code)


routes = web.RouteTableDef()
MAX_TEXT = 4000


@routes.post("/calls/assist")
@require_staff("operator", "dispatcher")
async def assist(request: web.Request) -> web.StreamResponse:
    """The operator's assistant (hub/knowledge/assistant.py) for the call being typed:
    a POST so the caller's phone never lands in an address or an access log."""
    from hub.security.text import same_secret

    hub = request.app["hub"]
    staff: Staff = request["staff"]
    if not same_secret(request.headers.get("X-CSRF-Token", ""), staff.csrf_token):
        return web.json_response({"error": "send the page's csrf token in X-CSRF-Token"},
                                 status=403)
    try:
        sent = await request.json()
    except ValueError:
        sent = None
    if not isinstance(sent, dict):
        return web.json_response({"error": "send a JSON object"}, status=400)
    title, body, phone = (str(sent.get(k) or "")[:MAX_TEXT] for k in ("title", "body", "phone"))
    router = request.app["router"]
    tz = request.app["case_service"].calendar.tz
    config = hub.config

    def work() -> dict[str, Any]:
        decision = router.route(f"{title}\n{body}")
        now = utcnow()
        with hub.sessions() as s:
            return assistant.suggest(s, decision, title, body, phone[:30], now,
                                     now.astimezone(tz).date(),
                                     {u.code: u.name for u in config.units},
                                     {c.code: c.name for c in config.counties})

    if not (title.strip() or body.strip() or phone.strip()):
        return web.json_response({"articles": [], "caller_cases": [], "same_matter": None})
    return web.json_response(await hub.run(work), dumps=json_text)

