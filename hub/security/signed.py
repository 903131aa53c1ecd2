"""Short-lived values the hub signs for a browser to bring back (HMAC-SHA256 with
the hub's secret, a purpose and an expiry): what a page shows after a
post/redirect/get, without putting secrets in the address."""

from __future__ import annotations

import hashlib
import hmac
import time

from hub.security.text import as_bytes


def _mac(secret: str, purpose: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def seal(secret: str, purpose: str, value: str, max_age: int, now: float | None = None) -> str:
    """``value`` (no '~') with its expiry and signature."""
    body = f"{value}~{int((now or time.time()) + max_age)}"
    return f"{body}~{_mac(secret, purpose, body)}"


def unseal(secret: str, purpose: str, token: str | None, now: float | None = None) -> str | None:
    """The value of a token this hub sealed for ``purpose`` and not yet expired."""
    if not token or len(token) > 300 or token.count("~") != 2:
        return None
    value, expires, mac = token.split("~")
    expected = _mac(secret, purpose, f"{value}~{expires}")
    if not hmac.compare_digest(as_bytes(mac), as_bytes(expected)):
        return None
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return value
