"""Sub-platforms (the 8 and the N of 1+8+N): a county's or department's own hub
forwards its ledger (台账) to the city platform.

It reads the sub-platform's ``GET /api/v1/ledger?after=ID&limit=N`` (served by
every hub, see hub/api/ledger.py) with that hub's ledger key. Each item keeps its
own appeal id as external id, prefixed by the sub-platform's name so ids from
two counties never collide. The checkpoint is the last ledger id queued.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from connectors.base import Abort, BadItem, Connector, RawItem, json_bytes, json_page


class SubPlatformConnector(Connector):
    kind = "subplatform"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.fetcher is not None and self.options.get("api_key"):
            self.fetcher.headers["X-Api-Key"] = str(self.options["api_key"])

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            item = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadItem(f"not JSON: {exc}", raw) from None
        if not isinstance(item, dict) or not isinstance(item.get("id"), int) or \
                not item.get("body"):
            raise BadItem("ledger entry without id or body", raw)
        prefix = self.options.get("id_prefix", self.name)
        fields = {"external_id": f"{prefix}:{item['id']}", "body": item["body"],
                  "title": item.get("title"), "received_at": item.get("received_at"),
                  "contact_name": item.get("contact_name"),
                  "contact_phone": item.get("contact_phone"), "location": item.get("location"),
                  "votes": item.get("votes"),
                  "extra": {"platform": prefix, "source": item.get("source"),
                            "case": item.get("case")}}
        return {k: v for k, v in fields.items() if v is not None}

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:  # type: ignore[override]
        assert self.fetcher is not None
        after = int(since) if since and since.isdigit() else 0
        limit = str(self.options.get("page_size", 200))
        while True:
            page = await self.fetcher.get(self.option("url"), {"after": str(after), "limit": limit})
            doc = json_page(page.body, "ledger page")
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                raise Abort("ledger page without items")
            for item in doc["items"]:
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    after = max(after, item["id"])
                yield self.item(json_bytes(item), str(after))
            if not doc.get("more"):
                return
