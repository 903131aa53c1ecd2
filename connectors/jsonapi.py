"""A declarative base for JSON APIs, so a JSON channel is a short class: where the
records are, which field is the id, how the API pages, which field changes when a
record changes upstream, and how one record maps to the intake fields.

    class HotlineConnector(JsonApiConnector):
        '''12345 hotline work-order system'''
        kind = "hotline"
        records = "items"                      # dotted path to the list in a page
        id_field = "id"
        paging = CursorPaging("cursor", "next_cursor")
        page_size_param = "limit"

        def fields(self, record): return {"body": record.get("content"), ...}

Paging, and what each assumes about order (the checkpoint contract itself is in
connectors/base.py):

- ``CursorPaging``: the API hands out a cursor to the next page of an append-only,
  oldest-first list. The checkpoint is the cursor of the page an item came from,
  so a pull starts again on that page and catches records appended to it since.
  A record inserted before a cursor already read cannot be seen from after it;
  cursors are opaque, so nothing orders them: `hub source reset` re-reads from the
  start (repeats are ignored).
- ``MaxIdPaging``: records with ids above ``after``, in id order. The checkpoint is
  the highest id queued and never moves back. Ids drawn from a database sequence
  can become visible out of order (a transaction that took id 101 commits after
  102 was read), so each pull starts ``overlap_ids`` ids back.
- ``PageNumberPaging``: a newest-first list by page number, walked like a message
  board until it reaches stored records (connectors/walk.py), whatever their dates.

``replication_key`` names the record field that changes whenever the record does
(``update_time``): its value is kept with the appeal as its stamp, a newest-first
walk re-reads a record whose stamp changed, and any re-read record whose content
changed updates the stored appeal with an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from connectors.base import (
    Abort,
    BadItem,
    Checkpoint,
    Connector,
    RawItem,
    json_bytes,
    json_page,
)
from connectors.options import HTTP_OPTIONS, REQUIRED, Option
from connectors.text import parse_time
from connectors.walk import WALK_OPTIONS, Entry, ListingWalk, WalkState

_MAX_PAGES = Option("max_pages", int, 1000, "most pages one pull reads (the next pull "
                    "carries on from there)", check="positive")


@dataclass(frozen=True)
class CursorPaging:
    param: str = "cursor"  # query parameter carrying the cursor
    next_key: str = "next_cursor"  # dotted path of the next cursor in a page (null: last)
    options: tuple[Option, ...] = (_MAX_PAGES,)


@dataclass(frozen=True)
class MaxIdPaging:
    param: str = "after"  # query parameter: records with a greater id
    more_key: str = "more"  # dotted path of "there is another page"
    options: tuple[Option, ...] = (
        Option("overlap_ids", int, 100, "each pull starts this many ids below the last one "
               "queued: ids that became visible late are still read (repeats are free)"),
        _MAX_PAGES)


@dataclass(frozen=True)
class PageNumberPaging:
    param: str = "page"
    first: int = 1
    more_key: str | None = None  # dotted path of "there is another page" (else: a full page)
    options: tuple[Option, ...] = WALK_OPTIONS


Paging = CursorPaging | MaxIdPaging | PageNumberPaging


def dig(doc: Any, path: str) -> Any:
    """``doc["a"]["b"]`` for the dotted path "a.b"; None where it does not lead."""
    for key in path.split(".") if path else ():
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


class JsonApiConnector(Connector):
    """A JSON API; subclasses set the class attributes and ``fields``."""

    path: ClassVar[str] = ""  # appended to the `url` option, unless it already ends so
    records: ClassVar[str] = "items"
    id_field: ClassVar[str] = "id"
    paging: ClassVar[Paging] = CursorPaging()
    replication_key: ClassVar[str | None] = None
    time_field: ClassVar[str | None] = None  # the record's date (newest-first walks)
    pinned_field: ClassVar[str | None] = None  # a true value marks a pinned record
    page_size_param: ClassVar[str | None] = None
    default_page_size: ClassVar[int] = 100
    OPTIONS = (Option("url", str, REQUIRED, "the API's address", check="url"),)

    @classmethod
    def declared_options(cls) -> tuple[Option, ...]:
        size = (Option("page_size", int, cls.default_page_size, "records asked for per page",
                       check="positive"),) if cls.page_size_param else ()
        own = tuple(Option("url", str, REQUIRED, f"the address of the hub or API ({cls.path} "
                           "is added unless it ends so)", check="url")
                    if o.name == "url" and cls.path else o for o in cls.OPTIONS)
        return (*own, *size, *cls.paging.options, *HTTP_OPTIONS)

    # -- what a subclass writes ------------------------------------------------------------
    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        """Intake fields (body, title, received_at, contact_*, location, votes, extra)
        of one record; None values are dropped."""
        raise NotImplementedError

    def external_id(self, record: dict[str, Any]) -> str:
        return str(record[self.id_field])

    # -- the rest is shared ----------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        url = str(self.option("url"))
        return url if not self.path or url.rstrip("/").endswith(self.path.rstrip("/")) \
            else url.rstrip("/") + self.path

    async def _page(self, params: dict[str, str]) -> tuple[Any, list[Any]]:
        assert self.fetcher is not None
        if self.page_size_param:
            params = {self.page_size_param: str(self.option("page_size")), **params}
        page = await self.fetcher.get(self.endpoint, params or None)
        doc = json_page(page.body, f"{self.kind} page")
        found = dig(doc, self.records)
        if not isinstance(found, list):
            said = {k: doc[k] for k in ("code", "msg", "message", "error")
                    if isinstance(doc, dict) and k in doc}
            raise Abort(f"the page has no {self.records!r} list{f' ({said})' if said else ''}: "
                        "has the API changed?")
        return doc, found

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadItem(f"not JSON: {exc}", raw) from None
        if not isinstance(record, dict) or record.get(self.id_field) in (None, ""):
            raise BadItem(f"record without {self.id_field!r}", raw)
        external_id = self.external_id(record)
        fields = {k: v for k, v in self.fields(record).items() if v is not None}
        body = fields.get("body")
        if not isinstance(body, str) or not body.strip():
            raise BadItem(f"record {external_id} has no text", raw, external_id)
        if self.replication_key and record.get(self.replication_key) is not None:
            fields["extra"] = {**fields.get("extra", {}),
                               "stamp": str(record[self.replication_key])}
        return {"external_id": external_id, **fields}

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem | Checkpoint]:  # type: ignore[override]
        paging = self.paging
        if isinstance(paging, CursorPaging):
            cursor = since or None
            seen = {cursor}
            while True:
                doc, found = await self._page({paging.param: cursor} if cursor else {})
                for record in found:
                    yield self.item(json_bytes(record), cursor)  # type: ignore[arg-type]
                nxt = dig(doc, paging.next_key)
                if not nxt or str(nxt) == cursor:
                    return  # the end (some APIs hand the tail's own cursor back)
                if str(nxt) in seen:
                    self.warn(f"the API handed out the cursor {str(nxt)[:60]!r} again: "
                              "stopped there rather than read the same pages forever")
                    return
                if len(seen) > int(self.option("max_pages")):
                    self.warn(f"max_pages ({self.option('max_pages')}) reached: the next "
                              "pull carries on from the last page read")
                    return
                cursor = str(nxt)
                seen.add(cursor)
        elif isinstance(paging, MaxIdPaging):
            done = int(since) if since and since.isdigit() else 0
            after = max(0, done - int(self.option("overlap_ids")))
            pages = 0
            while True:
                asked = after
                doc, found = await self._page({paging.param: str(after)})
                for record in found:
                    ident = record.get(self.id_field) if isinstance(record, dict) else None
                    if isinstance(ident, int) and not isinstance(ident, bool):
                        after, done = max(after, ident), max(done, ident)
                    yield self.item(json_bytes(record), str(done))
                if not found or not dig(doc, paging.more_key):
                    return
                pages += 1
                if after == asked:
                    self.warn(f"the API said there is more after id {asked} but its page "
                              "brought no greater id: stopped rather than ask again forever")
                    return
                if pages >= int(self.option("max_pages")):
                    self.warn(f"max_pages ({self.option('max_pages')}) reached: the next "
                              f"pull carries on after id {done}")
                    return
        else:
            walk = ListingWalk(self._numbered_page, self.known, self.options, self.warn)
            entries, state = await walk.run(str(paging.first), WalkState.load(since))
            for entry in reversed(entries):  # oldest first
                yield self.item(json_bytes(entry.payload), since)  # type: ignore[arg-type]
            yield Checkpoint(state.dump())

    async def _numbered_page(self, ref: str) -> tuple[list[Entry], str | None]:
        paging = self.paging
        assert isinstance(paging, PageNumberPaging)
        doc, found = await self._page({paging.param: ref})
        entries = []
        for record in found:
            if not isinstance(record, dict) or record.get(self.id_field) in (None, ""):
                continue  # parse() quarantines it if it is ever read
            stamp = record.get(self.replication_key) if self.replication_key else None
            when = None
            if self.time_field and isinstance(record.get(self.time_field), str):
                try:
                    when = parse_time(record[self.time_field])
                except ValueError:
                    pass
            entries.append(Entry(self.external_id(record),
                                 pinned=bool(self.pinned_field and record.get(self.pinned_field)),
                                 stamp=None if stamp is None else str(stamp), when=when,
                                 payload=record))
        more = dig(doc, paging.more_key) if paging.more_key else bool(found)
        return entries, str(int(ref) + 1) if more else None

    def checkpoint_key(self, checkpoint: str) -> Any | None:
        if isinstance(self.paging, MaxIdPaging):
            return int(checkpoint) if checkpoint.isdigit() else 0
        if isinstance(self.paging, PageNumberPaging):
            return WalkState.load(checkpoint).newest or ""
        return None

    def reset_checkpoint(self, since: datetime | None) -> str | None:
        if isinstance(self.paging, PageNumberPaging):
            return WalkState(until=since.isoformat()).dump() if since else \
                WalkState(until="1970-01-01T00:00:00+00:00").dump()
        return None  # cursors and ids say nothing about dates: read from the start

    def reset_note(self, since: datetime | None) -> str:
        if isinstance(self.paging, PageNumberPaging):
            return ("the next pulls walk the list without stopping at stored records, down to "
                    + (f"records older than {since:%Y-%m-%d}" if since else "its end"))
        return super().reset_note(since)
