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

from connectors.base import Abort, BadItem, Connector, RawItem, json_bytes, json_page


class HotlineConnector(Connector):
    kind = "hotline"

    async def _page(self, cursor: str | None) -> dict[str, Any]:
        assert self.fetcher is not None
        params = {"limit": str(self.options.get("page_size", 100))}
        if cursor:
            params["cursor"] = cursor
        page = await self.fetcher.get(self.option("url"), params)
        data = json_page(page.body, "work-order page")
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise Abort("the response has no 'items' list: has the API changed?")
        return data

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
                yield self.item(json_bytes(item), cursor or "")
            nxt = page.get("next_cursor")
            if not nxt:
                return
            cursor = str(nxt)
