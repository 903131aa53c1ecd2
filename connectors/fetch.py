"""Polite, resilient HTTP for connectors: one place for rate limits, timeouts,
retries with exponential backoff and jitter, Retry-After, and a size cap.

Its options (timeout, size cap, pacing, retries, headers, token) are declared once
in connectors/options.py (HTTP_OPTIONS) and apply to every connector that pulls.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from connectors.base import Abort, RetryLater
from connectors.options import HTTP_OPTIONS, resolved

_HTTP_NAMES = {o.name for o in HTTP_OPTIONS}
RETRY_STATUS = {429, 500, 502, 503, 504}
FATAL_STATUS = {400, 401, 403, 404, 410}


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    body: bytes
    content_type: str
    charset: str | None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - now_dt).total_seconds())


class Fetcher:
    def __init__(self, http: aiohttp.ClientSession, options: dict[str, Any],
                 sleep: Any = asyncio.sleep) -> None:
        self.http = http
        options = {**resolved(HTTP_OPTIONS, {k: v for k, v in options.items()
                                             if k in _HTTP_NAMES}), **options}
        self.timeout = aiohttp.ClientTimeout(total=float(options["timeout_seconds"]))
        self.max_bytes = int(options["max_response_bytes"])
        self.min_interval = float(options["min_interval_seconds"])
        self.retries = int(options["retries"])
        self.backoff = float(options["backoff_seconds"])
        self.max_backoff = float(options["max_backoff_seconds"])
        self.headers = dict(options.get("headers") or {})
        if options.get("token"):
            self.headers["Authorization"] = f"Bearer {options['token']}"
        self._sleep = sleep
        self._last = 0.0
        self.retried = 0

    async def _pace(self) -> None:
        wait = self._last + self.min_interval - time.monotonic()
        if wait > 0:
            await self._sleep(wait)
        self._last = time.monotonic()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return random.uniform(base / 2, base)  # "equal jitter": spread the retries out

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        """The whole body, or Abort as soon as it passes the cap (read() alone may
        return less than the body: it hands back what has arrived so far)."""
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise Abort(f"response from {url} is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get(self, url: str, params: dict[str, str] | None = None) -> Page:
        """GET with retries; raises RetryLater when retries run out, Abort when refused."""
        last_error = ""
        for attempt in range(self.retries + 1):
            await self._pace()
            retry_after = None
            try:
                async with self.http.get(url, params=params, headers=self.headers,
                                         timeout=self.timeout) as resp:
                    if resp.status in FATAL_STATUS:
                        raise Abort(f"HTTP {resp.status} from {url}")
                    if resp.status in RETRY_STATUS:
                        retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
                        last_error = f"HTTP {resp.status} from {url}"
                    elif resp.status >= 400:
                        raise Abort(f"HTTP {resp.status} from {url}")
                    else:
                        body = await self._read_capped(resp, url)
                        return Page(str(resp.url), resp.status, body, resp.content_type,
                                    resp.charset)
            except (TimeoutError, aiohttp.ClientError) as exc:
                last_error = f"{type(exc).__name__} on {url}: {exc}".strip()
            if attempt < self.retries:
                self.retried += 1
                await self._sleep(self._delay(attempt, retry_after))
        raise RetryLater(f"{last_error} (after {self.retries + 1} attempts)")
