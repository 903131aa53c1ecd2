"""12345 hotline work-order system: a JSON API paged by cursor.

GET {url}?cursor=C&limit=N -> {"items": [...], "next_cursor": "..." | null}
Each item: {"id", "title", "content", "created_at", "caller_name", "caller_phone",
"address"}.

Order: cursor paging (connectors/jsonapi.py): work orders are assumed to be
appended in the order they are created; each pull starts again on the page of its
checkpoint. Work orders do not change once exported, so there is no stamp.
"""

from __future__ import annotations

from typing import Any

from connectors.jsonapi import CursorPaging, JsonApiConnector


class HotlineConnector(JsonApiConnector):
    """12345 hotline work-order system (JSON API paged by cursor)"""

    kind = "hotline"
    records = "items"
    id_field = "id"
    paging = CursorPaging(param="cursor", next_key="next_cursor")
    page_size_param = "limit"

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"body": record.get("content"), "title": record.get("title"),
                "received_at": record.get("created_at"),
                "contact_name": record.get("caller_name"),
                "contact_phone": record.get("caller_phone"), "location": record.get("address")}
