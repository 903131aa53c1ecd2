"""Staff pages: login and logout, the home page's redirect, and logging a call at the
hotline desk. The inbox: hub/web/inbox.py; a case: hub/web/cases.py; staff
accounts: hub/web/users.py (sources and quarantine: hub/web/admin_sources.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import ItemError, validate_item
from hub.lifecycle.service import new_query_code
from hub.security.redirects import safe_next
from hub.web import SESSION_COOKIE, checked_form, citizen_session, require_staff, surges
from hub.web.auth import end_session
from hub.web.login import LoginRefused, attempt_login, set_session_cookie

routes = web.RouteTableDef()
DESK_SOURCE = "hotline-desk"


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


# -- login ------------------------------------------------------------------------------
@routes.get("/login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": safe_next(request.query.get("next", "/inbox"))}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    username = str(form.get("username", "")).strip()[:60]
    password = str(form.get("password", ""))[:200]
    context = {"next": safe_next(form.get("next", "/inbox")), "username": username}
    try:
        outcome = await attempt_login(request, username, password)
    except LoginRefused as exc:
        response = aiohttp_jinja2.render_template(
            "login.html", request, {**context, "error": exc.message}, status=exc.status)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if outcome is None:
        return aiohttp_jinja2.render_template(
            "login.html", request, {**context, "error": "用户名或密码不正确"}, status=401)
    response = web.HTTPSeeOther(context["next"])
    set_session_cookie(response, _hub(request), outcome.token)
    raise response


@routes.post("/logout")
@require_staff()
async def logout(request: web.Request) -> web.StreamResponse:
    await checked_form(request)
    hub = _hub(request)
    token = request.cookies.get(SESSION_COOKIE, "")

    def drop() -> None:
        with transaction(hub.sessions) as s:
            end_session(s, token)

    await hub.run(drop)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    if request.get("staff"):
        raise web.HTTPSeeOther("/inbox")
    from hub.web.public import home

    return await home(request)


# -- hotline desk -----------------------------------------------------------------------
@routes.get("/calls/new")
@require_staff("operator", "dispatcher")
async def call_form(request: web.Request) -> web.StreamResponse:
    active = await surges.banners(request)
    receipt = None
    kept = citizen_session.recall(request, citizen_session.RECEIPT) \
        if request.query.get("done") else None
    if kept:  # the call just logged (post/redirect/get: a reload logs nothing again)
        linked = next((s.title for s in active if str(s.id) == request.query.get("surge")),
                      None)
        receipt = {"number": kept[0], "code": kept[1], "surge": linked,
                   "direct": bool(request.query.get("direct"))}
    return aiohttp_jinja2.render_template("call_new.html", request, {
        "surges": active, "receipt": receipt})


async def enqueue_with_code(request: web.Request, source_name: str,
                            fields: dict[str, Any],
                            extra_raw: dict[str, Any] | None = None) -> dict[str, str]:
    """Queue an appeal typed in by a person and tell them its case number and code now.

    The number is derived from the appeal (date + id) and the code travels in the
    raw payload, so the pipeline opens the case under exactly these.
    """
    hub = _hub(request)
    code = new_query_code()
    item = validate_item({**{k: v for k, v in fields.items() if v},
                          "external_id": f"{source_name}-{uuid.uuid4().hex}"})
    item.raw = {"query_code": code, "entered_by": source_name, **(extra_raw or {})}
    [queued] = await request.app["intake"].submit(hub.source_ids[source_name], [item])
    local = item.received_at.astimezone(request.app["case_service"].calendar.tz)
    return {"number": f"{local:%Y%m%d}{queued.id:06d}", "code": code}


@routes.post("/calls/new")
@require_staff("operator", "dispatcher")
async def call_submit(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    fields = {k: str(form.get(k, "")).strip() for k in
              ("title", "body", "contact_name", "contact_phone", "location")}
    intent = str(form.get("intent", ""))
    if intent in ("search", "direct"):  # the knowledge base (hub/web/direct_answer.py)
        from hub.web.direct_answer import knowledge_step

        return await knowledge_step(request, form, fields, intent)
    active = await surges.banners(request)
    chosen = str(form.get("surge", "")).strip()
    surge = next((s for s in active if str(s.id) == chosen), None)
    if chosen and surge is None:
        return aiohttp_jinja2.render_template("call_new.html", request, {
            "surges": active, "form": fields,
            "error": "所选热点事件已结束或不存在，请重新选择后登记"}, status=422)
    try:
        receipt = await enqueue_with_code(request, DESK_SOURCE, fields,
                                          {"surge_id": surge.id} if surge else None)
    except ItemError as exc:
        return aiohttp_jinja2.render_template("call_new.html", request, {
            "surges": active, "form": fields, "error": f"无法登记：{exc}"}, status=422)
    return citizen_session.redirect(
        request, "/calls/new?done=1" + (f"&surge={surge.id}" if surge else ""),
        citizen_session.RECEIPT, receipt["number"], receipt["code"])
