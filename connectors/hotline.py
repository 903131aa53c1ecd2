"""12345 hotline system: a JSON work-order API paged by cursor.

GET {url}?cursor=C&limit=N -> {"items": [...], "next_cursor": "..." | null}
Each item: {"id", "title", "content", "created_at", "caller_name", "caller_phone",
"address"}. The checkpoint is the cursor of the page the item came from, so a
re-run after a crash starts at that page again (replays are no-ops in the queue).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from connectors.base import Abort, BadItem, Connector, RawItem, RetryLater


class HotlineConnector(Connector):
    kind = "hotline"

    async def _page(self, cursor: str | None) -> dict[str, Any]:
        params = {"limit": str(self.options.get("page_size", 100))}
        if cursor:
            params["cursor"] = cursor
        headers = {}
        if self.options.get("token"):
            headers["Authorization"] = f"Bearer {self.options['token']}"
        timeout = aiohttp.ClientTimeout(total=float(self.options.get("timeout_seconds", 20)))
        max_bytes = int(self.options.get("max_response_bytes", 5 * 1024 * 1024))
        try:
            async with self.http.get(self.options["url"], params=params, headers=headers,
                                     timeout=timeout) as resp:
                if resp.status in (429, 500, 502, 503, 504):
                    raise RetryLater(f"HTTP {resp.status} from {self.options['url']}")
                if resp.status in (401, 403, 404):
                    raise Abort(f"HTTP {resp.status} from {self.options['url']}")
                body = await resp.content.read(max_bytes + 1)
                if len(body) > max_bytes:
                    raise Abort(f"page larger than {max_bytes} bytes")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        try:
            page = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RetryLater(f"unreadable page: {exc}") from None
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise Abort("the response has no 'items' list: has the API changed?")
        return page

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            item = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadItem(f"not JSON: {exc}", raw) from None
        if not isinstance(item, dict) or not item.get("id") or not item.get("content"):
            raise BadItem("work order without id or content", raw,
                          str(item.get("id")) if isinstance(item, dict) else None)
        fields = {"external_id": str(item["id"]), "body": item["content"],
                  "title": item.get("title"), "received_at": item.get("created_at"),
                  "contact_name": item.get("caller_name"),
                  "contact_phone": item.get("caller_phone"), "location": item.get("address")}
        return {k: v for k, v in fields.items() if v is not None}

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:  # type: ignore[override]
        cursor = since
        while True:
            page = await self._page(cursor)
            for item in page["items"]:
                raw = json.dumps(item, ensure_ascii=False).encode("utf-8")
                try:
                    yield RawItem(self.parse(raw), checkpoint=cursor or "")
                except BadItem as bad:
                    yield bad
            nxt = page.get("next_cursor")
            if not nxt:
                return
            cursor = str(nxt)
