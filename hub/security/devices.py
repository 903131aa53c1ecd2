"""Signed device ids for the QR evaluations (扫码评议).

The evaluation page gives each browser a random id in a cookie, signed with the
hub's secret so it cannot be invented; limits count per device as well as per
address, so changing the User-Agent or inventing ids buys nothing. Clearing the
cookie gives a new device, which the per-address and per-unit limits still count.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from hub.security.text import as_bytes

COOKIE = "hub_device"
MAX_AGE = 400 * 24 * 3600


def _sign(secret: str, device: str) -> str:
    return hmac.new(secret.encode(), f"device:{device}".encode(), hashlib.sha256).hexdigest()[:32]


def new_device(secret: str) -> str:
    device = secrets.token_urlsafe(16)
    return f"{device}.{_sign(secret, device)}"


def verified_device(secret: str, cookie: str | None) -> str | None:
    """The device id of a cookie the hub signed, else None."""
    if not cookie or len(cookie) > 100 or "." not in cookie:
        return None
    device, signature = cookie.rsplit(".", 1)
    if not secrets.compare_digest(as_bytes(signature), as_bytes(_sign(secret, device))):
        return None
    return device
