"""Operations endpoints: /healthz (liveness), /readyz (readiness), /metrics (Prometheus).

/metrics is for the monitoring host only: it answers a direct request from this
machine's loopback that came through no proxy, or anyone presenting
``HUB_METRICS_TOKEN`` as a bearer token. Behind nginx every request arrives from
loopback, so a request carrying proxy headers is never taken as local (and
deploy/nginx.conf does not pass /metrics on at all).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import metrics
from hub.api import shapes
from hub.api.errors import error_response
from hub.core import Hub
from hub.health import database_readings, readiness
from hub.security.text import same_secret

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host")


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the event loop answers. The database is /readyz's business: a process
    must not be restarted because the database is away."""
    return shapes.answer(shapes.Liveness(status="ok",
                                         instance=request.app["settings"].instance_name))


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    status, body = await readiness(request.app)
    headers = {"Retry-After": "10"} if status == 503 else None
    return shapes.answer(shapes.Readiness.model_validate(body), status, headers)


def _local_and_direct(request: web.Request) -> bool:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return False
    try:
        loopback = ipaddress.ip_address(peer[0]).is_loopback
    except ValueError:
        return False
    return loopback and not any(h in request.headers for h in PROXY_HEADERS)


@routes.get("/metrics")
async def metrics_page(request: web.Request) -> web.Response:
    token = request.app["settings"].metrics_token
    sent = request.headers.get("Authorization", "")
    if token and same_secret(sent, f"Bearer {token}"):  # as bytes: any header is safe
        pass
    elif not _local_and_direct(request):
        return error_response(403, "forbidden", "metrics are served to loopback, or with the "
                              "HUB_METRICS_TOKEN bearer token")
    hub: Hub = request.app["hub"]
    body = await hub.run(generate_latest)  # scrape-time gauges query the database
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def request_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requests by route template (never the raw path: ids would explode the series)
    and status, with latency."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.HTTP_SECONDS.labels(route, request.method).observe(
            time.perf_counter() - started)


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Register this app's database gauges while it runs (tests start many apps)."""
    hub: Hub = app["hub"]
    collector = metrics.DatabaseGauges(lambda: database_readings(hub))
    metrics.register(collector)
    yield
    metrics.unregister(collector)
