"""The admin's view of staff accounts: the list and a new account (sources and
quarantine: hub/web/admin_sources.py; units: hub/web/admin_units.py)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.web import checked_form, require_staff
from hub.web.auth import ROLES, AuthError, add_user, list_users
from hub.web.choices import choices

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.app["hub"]  # type: ignore[no-any-return]


@routes.get("/admin/users")
@require_staff("admin")
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _render_users(request)


async def _render_users(request: web.Request, error: str | None = None,
                        status: int = 200) -> web.StreamResponse:
    hub = _hub(request)

    def load() -> list[dict[str, Any]]:
        with hub.sessions() as s:
            return list_users(s)

    return aiohttp_jinja2.render_template("admin_users.html", request, {
        **choices(hub), "users": await hub.run(load), "roles": ROLES, "error": error},
        status=status)


@routes.post("/admin/users")
@require_staff("admin")
async def create_user(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    hub = _hub(request)

    def create() -> None:
        with transaction(hub.sessions) as s:
            add_user(s, str(form.get("username", "")).strip()[:60],
                     str(form.get("password", "")), str(form.get("role", "")),
                     str(form.get("display_name", "")).strip()[:60] or None,
                     str(form.get("unit", "")) or None, head=form.get("head") == "yes")

    try:
        await hub.run(create)
    except AuthError as exc:
        return await _render_users(request, error=str(exc), status=422)
    raise web.HTTPSeeOther("/admin/users")
