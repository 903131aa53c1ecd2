"""Security headers on every response, pages, API and errors alike.

- Content-Security-Policy fitting the pages: nothing from other sites; scripts only
  with this response's nonce (the one inline script carries it); inline styles are
  allowed (the templates use style attributes, which cannot carry a nonce); forms
  post only to this site; no framing (also X-Frame-Options for old browsers).
- nosniff and a same-origin referrer policy (case pages' URLs stay on the site).
- ``Cache-Control: no-store`` on everything that did not choose its own caching:
  staff pages, exports, look-ups and receipts carry personal data or query codes,
  and public forms carry a visitor's CSRF token. Published reports and QR codes
  set ``public`` caching themselves.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NONCE_KEY = "csp_nonce"


def csp(nonce: str) -> str:
    return ("default-src 'none'; "
            f"script-src 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; "
            "connect-src 'self'; "  # the inbox asks /inbox/newer for new cases
            "form-action 'self'; "
            "frame-ancestors 'none'; "
            "base-uri 'none'")


def _apply(response: web.StreamResponse, nonce: str) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp(nonce))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    nonce = secrets.token_urlsafe(16)
    request[NONCE_KEY] = nonce
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and error pages too
        _apply(exc, nonce)
        raise
    if not response.prepared:
        _apply(response, nonce)
    return response


def cacheable(response: web.StreamResponse, seconds: int = 300) -> web.StreamResponse:
    """Mark a public response (a published report, a QR code) as cacheable."""
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response
