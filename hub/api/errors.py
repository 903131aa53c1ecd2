"""JSON errors with a machine-readable code, for every /api/ path and the operations
endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from hub.api.shapes import Error, ErrorDetail, answer
from hub.security.jsonbody import BodyError, loads_object

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """The Error envelope; ``extra`` must be one of ErrorDetail's optional fields."""
    return answer(Error(error=ErrorDetail(code=code, message=message, **extra)), status,
                  headers)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers = headers

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.headers, **self.extra)


def body_error(exc: BodyError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message,
                    **({"field": exc.field} if exc.field else {}))


async def read_body(request: web.Request) -> bytes:
    """The raw body of a JSON request (aiohttp enforces client_max_size -> 413)."""
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", ""):
        raise ApiError(415, "unsupported_media_type", "send application/json")
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_charset", "the body must be UTF-8")
    try:
        return await request.read()
    except RequestPayloadError:  # a compressed body that does not decompress
        raise ApiError(400, "bad_request", "the body could not be read (Content-Encoding?)") \
            from None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object whose every value can be stored, or a 4xx
    saying what is wrong with it (hub/security/jsonbody.py)."""
    try:
        return loads_object(await read_body(request))
    except BodyError as exc:
        raise body_error(exc) from None


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
          415: "unsupported_media_type", 429: "too_many_requests"}


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not (request.path.startswith("/api/") or request.path in ("/healthz", "/readyz",
                                                                  "/metrics")):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else \
            f"request body is larger than {request.app['hub'].settings.max_body_bytes} bytes"
        return error_response(exc.status, code, message)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; it has been logged")
