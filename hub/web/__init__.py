"""Server-rendered pages: the staff inbox and the public pages.

``setup_web`` wires templates (aiohttp-jinja2), the session middleware and the
routes into the one app. Sessions are loaded only when the cookie is present,
so the intake API pays nothing for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

from hub.core import Hub
from hub.security.headers import NONCE_KEY
from hub.security.text import same_secret, unstorable
from hub.web.auth import Staff, load_staff

SESSION_COOKIE = "hub_session"
PUBLIC_CSRF_COOKIE = "hub_csrf"
TEMPLATES = Path(__file__).parent / "templates"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_web(app: web.Application) -> None:
    from hub.web import (
        admin_sources,
        admin_units,
        cases,
        catalogue,
        cohandle,
        contact_views,
        direct_answer,
        evaluation_review,
        inbox,
        inbox_bulk,
        knowledge,
        public,
        reminders,
        reply_templates,
        router_quality,
        saved_views,
        staff,
        staff_api,
        surges,
        users,
    )
    app.middlewares.append(session_middleware)  # before the context processors run
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES),
                               autoescape=jinja2.select_autoescape(["html"]),
                               context_processors=[_context])
    env.filters["dt"] = _format_time
    env.globals["urlencode"] = urlencode
    from hub.web.errors import page_errors

    app.middlewares.append(page_errors)  # inside the context processors: pages render
    app.add_routes(staff.routes)
    app.add_routes(inbox.routes)
    app.add_routes(inbox_bulk.routes)
    app.add_routes(saved_views.routes)
    app.add_routes(knowledge.routes)
    app.add_routes(direct_answer.routes)
    app.add_routes(reply_templates.routes)
    app.add_routes(cases.routes)
    app.add_routes(users.routes)
    app.add_routes(admin_units.routes)
    app.add_routes(router_quality.routes)
    app.add_routes(catalogue.routes)
    app.add_routes(admin_sources.routes)
    app.add_routes(evaluation_review.routes)
    app.add_routes(contact_views.routes)
    app.add_routes(surges.routes)
    app.add_routes(reminders.routes)
    app.add_routes(cohandle.routes)
    app.add_routes(staff_api.routes)
    app.add_routes(public.routes)


async def _context(request: web.Request) -> dict[str, Any]:
    hub: Hub = request.app["hub"]
    return {"staff": request.get("staff"), "city": hub.config.city_name,
            "csp_nonce": request.get(NONCE_KEY, ""),
            "public_csrf": request.get("public_csrf", ""),
            "reply_days": hub.config.deadlines.reply_days,
            "city_tz": hub.config.deadlines.timezone}


@jinja2.pass_context
def _format_time(context: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in the city's configured time zone."""
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    local = value.astimezone(ZoneInfo(context.get("city_tz") or "UTC"))
    if fmt == "cn":  # citizens' pages: 2026年12月7日 14:30
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return local.strftime(fmt)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the staff member (or None) and a public CSRF token to every page request."""
    request["staff"] = None
    if request.path.startswith("/api/v1/appeals") or request.path in ("/healthz", "/readyz",
                                                                       "/metrics"):
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        hub: Hub = request.app["hub"]

        def load() -> Staff | None:
            with hub.sessions() as s:
                return load_staff(s, token)

        request["staff"] = await hub.run(load)
    public_token = request.cookies.get(PUBLIC_CSRF_COOKIE) or ""
    fresh = not public_token
    if fresh:
        public_token = secrets.token_urlsafe(18)
    request["public_csrf"] = public_token
    response = await handler(request)
    if fresh:
        response.set_cookie(PUBLIC_CSRF_COOKIE, public_token, httponly=True, samesite="Lax",
                            secure=request.app["settings"].secure_cookies)
    return response


async def checked_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form, after its CSRF token matched the session's (or, for anonymous
    visitors, the double-submit cookie's), compared as bytes, and every field was
    found storable (no NUL, no lone surrogate): one bad character is a clear 422,
    never a database error."""
    try:
        form = await request.post()
    except (UnicodeDecodeError, LookupError, ValueError, RequestPayloadError,
            HttpProcessingError):
        # bytes that are not the declared charset, a charset Python does not know, a
        # broken multipart or compressed body: the client's fault, said plainly
        raise web.HTTPBadRequest(text="表单内容无法读取（编码错误或内容损坏），请刷新页面后重试",
                                 content_type="text/plain") from None
    sent = str(form.get("csrf", "")) or request.headers.get("X-CSRF-Token", "")
    staff: Staff | None = request.get("staff")
    expected = staff.csrf_token if staff else request.cookies.get(PUBLIC_CSRF_COOKIE, "")
    if not same_secret(sent, expected):
        raise web.HTTPForbidden(text="表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试",
                                content_type="text/plain")
    for name, value in form.items():
        if isinstance(value, str) and (unstorable(value) or unstorable(name)):
            raise web.HTTPUnprocessableEntity(
                text=f"表单字段 {ascii(name)} 含有无法保存的字符"
                     "（如空字符或残缺的 Unicode 代理项），请删除后重试",
                content_type="text/plain")
    return form


def require_staff(*roles: str) -> Callable[[Handler], Handler]:
    """Pages for logged-in staff; ``roles`` narrows them further."""

    def wrap(handler: Handler) -> Handler:
        async def inner(request: web.Request) -> web.StreamResponse:
            staff: Staff | None = request.get("staff")
            if staff is None:
                if request.method == "GET":
                    raise web.HTTPSeeOther(f"/login?{urlencode({'next': request.path_qs})}")
                raise web.HTTPUnauthorized(text="请先登录", content_type="text/plain")
            if roles and staff.role not in roles:
                return aiohttp_jinja2.render_template(
                    "error.html", request,
                    {"heading": "无权访问", "message": "您的角色不能使用此功能。"}, status=403)
            return await handler(request)

        inner.__name__ = handler.__name__
        return inner

    return wrap
