"""Error pages people can read: a 404, 403, 405, 413 or any other error on a page
(not on the JSON API, which answers in its own shape, hub/api/errors.py) is the
site's own page in Chinese, with a way back, never aiohttp's bare "404: Not Found".
An unexpected error is logged and shown as a plain 500 page without details;
database trouble is left to the outage middleware (a 503 that says to retry)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

from hub.outage import classify

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
PAGES = {
    400: ("请求有误", "提交的内容无法处理，请返回检查后重试。"),
    403: ("没有权限", "您没有权限进行这个操作。如果刚刚登录或页面停留太久，请刷新后重试。"),
    404: ("页面不存在", "您要找的页面不存在，可能地址有误或已被删除。"),
    405: ("不支持的操作", "这个页面不支持这样访问，请从页面上的链接或按钮进入。"),
    413: ("提交的内容太大", "提交的内容超过了允许的大小，请删减后重试。"),
    429: ("操作太频繁", "操作次数太多，请稍后再试。"),
    500: ("系统出错", "系统暂时出错，已记录，请稍后再试。"),
}


def _page(request: web.Request, status: int, message: str | None) -> web.StreamResponse:
    heading, default = PAGES.get(status, PAGES[400] if status < 500 else PAGES[500])
    return aiohttp_jinja2.render_template("error.html", request, {
        "heading": heading, "message": message or default, "links": True}, status=status)


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz", "/metrics"):
        return await handler(request)
    if request.path.startswith("/open311/"):  # Open311's own error shape (hub/api/open311.py)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return web.json_response([{"code": exc.status, "description": exc.reason}],
                                     status=exc.status)
        except Exception as exc:
            if classify(exc) is not None:
                raise
            log.exception("unhandled error on %s %s", request.method, request.path)
            return web.json_response([{"code": 500, "description": "internal error"}],
                                     status=500)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # a handler's own words (in Chinese) are kept; aiohttp's English defaults are not
        said = exc.text if exc.text and CHINESE.search(exc.text) else None
        response = _page(request, exc.status, said)
        for header in ("Retry-After", "Allow", "WWW-Authenticate"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception as exc:
        if classify(exc) is not None:  # database trouble: the outage page (hub/outage.py)
            raise
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(request, 500, None)
