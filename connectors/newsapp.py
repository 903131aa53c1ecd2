"""News-app clients' appeal sections (the "有话请您说" kind): a JSON feed of posts,
each with the departments' replies, paged by cursor.

GET {url}?cursor=C -> {"code": 0, "data": {"posts": [...], "next_cursor": "..." | null}}
A post: {"post_id", "subject", "content", "publish_time", "update_time", "nickname",
"phone", "district", "likes", "replies": [{"dept", "content", "time"}]}.

Order: cursor paging (connectors/jsonapi.py): posts are assumed to be appended in
the order they are published; each pull starts again on the page of its
checkpoint. ``update_time`` is the replication key: a post read again whose
replies changed updates the stored appeal with an event. Replies added to posts on
pages before the checkpoint's are not seen by a pull (the feed offers no way to ask
for changed posts); `hub source reset` re-reads the feed and picks them up.
"""

from __future__ import annotations

from typing import Any

from connectors.jsonapi import CursorPaging, JsonApiConnector


class NewsAppConnector(JsonApiConnector):
    """news-app appeal section (JSON feed of posts with replies, paged by cursor)"""

    kind = "newsapp"
    records = "data.posts"
    id_field = "post_id"
    paging = CursorPaging(param="cursor", next_key="data.next_cursor")
    replication_key = "update_time"

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        replies = [r for r in record.get("replies") or [] if isinstance(r, dict)]
        likes = record.get("likes")
        content = record.get("content")
        return {"body": content if isinstance(content, str) else None,
                "title": record.get("subject"), "received_at": record.get("publish_time"),
                "contact_name": record.get("nickname"), "contact_phone": record.get("phone"),
                "location": record.get("district"),
                "votes": likes if isinstance(likes, int) and not isinstance(likes, bool) else None,
                "extra": {"replies": replies[:20]} if replies else None}
