"""派单质量: the router's dispatch quality for dispatchers, supervisors and admins
(figures from hub/dispatch_quality.py; the same as ``hub router stats``)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.core import Hub
from hub.dispatch_quality import router_report
from hub.models import utcnow
from hub.web import require_staff

routes = web.RouteTableDef()


@routes.get("/admin/router")
@require_staff("admin", "supervisor", "dispatcher")
async def router_page(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app["hub"]
    try:
        weeks = min(max(int(request.query.get("weeks", "8")), 1), 52)
    except ValueError:
        weeks = 8
    router = request.app.get("router")
    report = await hub.run(router_report, hub, utcnow(), weeks,
                           getattr(router, "model", None))
    return aiohttp_jinja2.render_template("router_quality.html", request,
                                          {"report": report, "weeks": weeks})
