"""One login flow for the page and the JSON API.

1. Reserve an attempt for (username, client address) and for the address alone
   (atomic, in the database): past either limit the answer is 429 with Retry-After,
   before any password is checked.
2. Read the account's hash (a short read in the database pool).
3. Check the password in the password pool (hub/security/passwords.py); a missing
   account is checked against a dummy hash, so timing says nothing.
4. On success, start the session and give the reservation back, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hub.core import Hub
from hub.db import transaction
from hub.security.clients import client_address
from hub.security.passwords import Busy
from hub.web.auth import LoginLimiter, Staff, load_staff, password_hash_of, start_session


class LoginRefused(Exception):
    """Too many attempts (status 429) or the password pool is full (503)."""

    def __init__(self, status: int, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.status, self.retry_after, self.message = status, retry_after, message


@dataclass(frozen=True)
class LoggedIn:
    token: str
    staff: Staff


async def attempt_login(request: web.Request, username: str,
                        password: str) -> LoggedIn | None:
    """A session for correct credentials, None for wrong ones; LoginRefused when the
    attempt may not even be checked."""
    hub: Hub = request.app["hub"]
    limiter: LoginLimiter = request.app["login_limiter"]
    address = client_address(request)
    wait = await hub.run(limiter.reserve, username, address)
    if wait:
        raise LoginRefused(429, wait, f"登录失败次数过多，请 {max(1, wait // 60)} 分钟后再试")

    def find() -> tuple[int, str] | None:
        with hub.sessions() as s:
            return password_hash_of(s, username)

    account = await hub.run(find)
    try:
        ok = await hub.passwords.verify(account[1] if account else None, password)
    except Busy:
        await hub.run(limiter.give_back, username, address)
        raise LoginRefused(503, 2, "登录请求过多，请稍后再试") from None
    if not ok or account is None:
        return None

    def open_session() -> LoggedIn:
        with transaction(hub.sessions) as s:
            token = start_session(s, account[0], hub.settings.session_hours)
            limiter.succeeded(s, username, address)
            s.flush()
            staff = load_staff(s, token)
            assert staff is not None
            return LoggedIn(token, staff)

    return await hub.run(open_session)


def set_session_cookie(response: web.StreamResponse, hub: Hub, token: str) -> None:
    from hub.web import SESSION_COOKIE

    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=hub.settings.secure_cookies,
                        max_age=int(hub.settings.session_hours * 3600))
