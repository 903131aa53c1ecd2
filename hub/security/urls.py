"""Paths and query strings the databases could not store are refused at the door.

aiohttp decodes '%00' into a NUL character in ``request.path``, ``match_info`` and
``request.query``; PostgreSQL refuses such text and every handler would have to
remember to check. One middleware answers 400 instead, before any handler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.api.shapes import Error, ErrorDetail, answer
from hub.security.text import unstorable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def url_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    bad = unstorable(request.path) or next(
        (reason for key, value in request.query.items()
         for reason in (unstorable(key), unstorable(value)) if reason), None)
    if bad:
        message = f"the address {bad}"
        if request.path.startswith("/api/"):
            return answer(Error(error=ErrorDetail(code="invalid_url", message=message)), 400)
        return web.Response(status=400, text=f"网址含有无法处理的字符：{message}",
                            content_type="text/plain")
    return await handler(request)
