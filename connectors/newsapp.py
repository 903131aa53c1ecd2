"""News-app clients' appeal sections (the "有话请您说" kind): a JSON feed of posts,
each with the departments' replies, paged by cursor.

GET {url}?cursor=C -> {"code": 0, "data": {"posts": [...], "next_cursor": "..." | null}}
A post: {"post_id", "subject", "content", "publish_time", "nickname", "phone",
"district", "likes", "replies": [{"dept", "content", "time"}]}. The checkpoint is
the cursor of the page a post came from, as for the hotline.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from connectors.base import Abort, BadItem, Connector, RawItem, json_bytes, json_page


class NewsAppConnector(Connector):
    kind = "newsapp"

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            post = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadItem(f"not JSON: {exc}", raw) from None
        if not isinstance(post, dict) or not post.get("post_id"):
            raise BadItem("post without post_id", raw)
        content = post.get("content")
        if not isinstance(content, str) or not content.strip():
            raise BadItem("post without content", raw, str(post["post_id"]))
        replies = [r for r in post.get("replies") or [] if isinstance(r, dict)]
        fields: dict[str, Any] = {
            "external_id": str(post["post_id"]), "body": content, "title": post.get("subject"),
            "received_at": post.get("publish_time"), "contact_name": post.get("nickname"),
            "contact_phone": post.get("phone"), "location": post.get("district"),
            "votes": post.get("likes") if isinstance(post.get("likes"), int) else None,
            "extra": {"replies": replies[:20]} if replies else None}
        return {k: v for k, v in fields.items() if v is not None}

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:  # type: ignore[override]
        assert self.fetcher is not None
        cursor = since
        while True:
            params = {"cursor": cursor} if cursor else None
            page = await self.fetcher.get(self.option("url"), params)
            doc = json_page(page.body, "feed page")
            data = doc.get("data") if isinstance(doc, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("posts"), list):
                raise Abort(f"feed page without data.posts (code {doc.get('code')!r}): "
                            "has the API changed?" if isinstance(doc, dict) else "not an object")
            for post in data["posts"]:
                yield self.item(json_bytes(post), cursor or "")
            nxt = data.get("next_cursor")
            if not nxt:
                return
            cursor = str(nxt)
