"""The client's address, the one every limit and fingerprint uses.

Behind the shipped nginx every connection comes from 127.0.0.1, so the real client
is in X-Forwarded-For; but anyone can send that header. It is read only when the
connection comes from a configured trusted proxy (HUB_TRUSTED_PROXIES: addresses or
networks), walking the list from the right (the nearest hop) past further trusted
proxies: the first address not trusted is the client. Anything malformed stops the
walk, so a forged entry can never be chosen over the proxy's own view.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_KEY = "client_address"


def parse_networks(value: str) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/8' -> networks; raises ValueError naming a bad entry."""
    nets = []
    for part in value.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network") from None
    return tuple(nets)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _trusted(addr: Any, networks: Iterable[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def real_client(peer: str | None, forwarded_for: list[str],
                networks: tuple[Network, ...]) -> str:
    """The client address given the connection's peer and X-Forwarded-For headers."""
    peer_addr = _address(peer or "")
    if peer_addr is None:
        return peer or "unknown"
    if not networks or not _trusted(peer_addr, networks):
        return str(peer_addr)
    hops = [h for header in forwarded_for for h in header.split(",")]
    client = peer_addr
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break
        client = addr
        if not _trusted(addr, networks):
            break
    return str(client)


def client_middleware(networks: tuple[Network, ...]) -> Callable[..., Any]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[CLIENT_KEY] = real_client(request.remote,
                                          request.headers.getall("X-Forwarded-For", []),
                                          networks)
        return await handler(request)

    return middleware


def client_address(request: web.Request) -> str:
    """The real client address of a request (set by the middleware)."""
    return request.get(CLIENT_KEY) or request.remote or "unknown"
