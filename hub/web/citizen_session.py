"""A citizen's case in a signed cookie, so public forms can post/redirect/get: after
submitting, looking up or rating, the browser is sent to a page it may reload, and
the page finds the case number and query code in the cookie, never in the address
(the code is the citizen's secret). The cookie lives 30 minutes, HttpOnly; it is
signed after the code was checked, so the page that reads it does not count another
code check against the citizen's limits (hub/lifecycle/codes.py)."""

from __future__ import annotations

from aiohttp import web

from hub.security.signed import seal, unseal

RECEIPT, CASE = "hub_receipt", "hub_case"
MAX_AGE = 30 * 60


def remember(response: web.StreamResponse, request: web.Request, cookie: str, number: str,
             code: str) -> None:
    settings = request.app["hub"].settings
    response.set_cookie(cookie, seal(settings.secret_key, cookie, f"{number}.{code}", MAX_AGE),
                        max_age=MAX_AGE, httponly=True, samesite="Lax",
                        secure=settings.secure_cookies, path="/")


def recall(request: web.Request, cookie: str) -> tuple[str, str] | None:
    """(number, code) from a cookie this hub set, else None."""
    value = unseal(request.app["hub"].settings.secret_key, cookie, request.cookies.get(cookie))
    if value is None or value.count(".") != 1:
        return None
    number, code = value.split(".")
    return number, code


def redirect(request: web.Request, location: str, cookie: str, number: str,
             code: str) -> web.Response:
    """A 303 to ``location`` that carries the case in ``cookie``."""
    response = web.Response(status=303, headers={"Location": location})
    remember(response, request, cookie, number, code)
    return response
