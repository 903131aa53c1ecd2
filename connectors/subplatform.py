"""Sub-platforms (the 8 and the N of 1+8+N): a county's or department's own hub
forwards its ledger (台账) to the city platform.

It reads the sub-platform's ``GET /api/v1/ledger?after=ID&limit=N`` (served by
every hub, see hub/api/ledger.py) with that hub's ledger key. Each item keeps its
own appeal id as external id, prefixed by the sub-platform's name so ids from
two counties never collide.

Order: max-id paging (connectors/jsonapi.py): the checkpoint is the last ledger id
queued. Ledger ids come from a database sequence, and on PostgreSQL an appeal can
become visible after one with a higher id; each pull therefore starts
``overlap_ids`` ids back, and repeats are ignored by the queue.
"""

from __future__ import annotations

from typing import Any

from connectors.jsonapi import JsonApiConnector, MaxIdPaging
from connectors.options import Option


class SubPlatformConnector(JsonApiConnector):
    """a county's or department's own hub forwarding its ledger (台账)"""

    kind = "subplatform"
    path = "/api/v1/ledger"
    records = "items"
    id_field = "id"
    paging = MaxIdPaging(param="after", more_key="more")
    page_size_param = "limit"
    default_page_size = 200
    OPTIONS = (*JsonApiConnector.OPTIONS,
               Option("api_key", str, None, "the sub-platform's ledger key (its HUB_LEDGER_KEY)"),
               Option("id_prefix", str, None, "prefix of external ids (else the source's name)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.fetcher is not None and self.option("api_key"):
            self.fetcher.headers["X-Api-Key"] = str(self.option("api_key"))

    @property
    def prefix(self) -> str:
        return str(self.option("id_prefix") or self.name)

    def external_id(self, record: dict[str, Any]) -> str:
        return f"{self.prefix}:{record[self.id_field]}"

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"body": record.get("body"), "title": record.get("title"),
                "received_at": record.get("received_at"),
                "contact_name": record.get("contact_name"),
                "contact_phone": record.get("contact_phone"), "location": record.get("location"),
                "votes": record.get("votes"),
                "extra": {"platform": self.prefix, "source": record.get("source"),
                          "case": record.get("case")}}
