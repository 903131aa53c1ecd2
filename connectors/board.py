"""Message boards (留言板/问政): HTML list pages and detail pages, read with CSS
selectors from config, so a new board needs a config entry, not code.

Order: none is trusted. The list is walked newest-first until it reaches messages
already stored (connectors/walk.py: pinned 置顶 notices, reply-ordered lists and
posts published late with their original date cannot stop it early; a pull that
runs out of ``max_pages`` says so and the next one carries on). The printed dates
are kept as the appeal's time and never used to stop. With ``updated`` set, a
stored thread whose list entry changed (a reply was added) is read again and the
stored appeal updated, with an event. Details are then read oldest first.

The checkpoint is the walk's state (newest date seen, periodic recheck, unread
stretches left by ``max_pages``), stored once the pull's items are all queued.

A quarantined detail page is stored as one JSON line of context (url, id, list
fields), a blank line, then the page's bytes exactly as received; ``hub replay ID
--refetch`` downloads the page again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlparse

from bs4 import BeautifulSoup

from connectors.base import Abort, BadItem, Checkpoint, Connector, RawItem, RetryLater
from connectors.options import REQUIRED, Option
from connectors.text import decode_html, parse_time
from connectors.walk import WALK_OPTIONS, Entry, ListingWalk, WalkState

SESSION_PARAMS = ("jsessionid", "phpsessid", "aspsessionid", "sessionid", "session_id",
                  "sessid", "cfid", "cftoken", "utm_source", "utm_medium", "utm_campaign")
# consecutive detail pages failing with a transient error: the board is down, not
# one thread; the pull fails (nothing stored after) instead of quarantining them all
DOWN_AFTER = 3


def link_id(url: str, ignored: list[str]) -> str:
    """A detail link's stable id: its path and query as written, without session
    parameters (``;jsessionid=…`` in the path, ``?PHPSESSID=…``), so the same thread
    is the same id on every visit (and ids stored before stay the same)."""
    drop = {p.lower() for p in ignored}

    def kept(segment: str) -> bool:
        name = segment.split("=", 1)[0].lower()
        return name not in drop and not name.startswith("aspsessionid")

    parts = urlparse(url)
    path = parts.path.split(";")
    path_and_params = ";".join([path[0], *(seg for seg in path[1:] if kept(seg))])
    if parts.params:
        path_and_params += "".join(f";{seg}" for seg in parts.params.split(";") if kept(seg))
    query = "&".join(seg for seg in parts.query.split("&") if seg and kept(seg))
    return path_and_params + ("?" + query if query else "")


class BoardConnector(Connector):
    """any HTML message board (留言板/问政), read with CSS selectors"""

    kind = "board"
    OPTIONS = (
        Option("list_url", str, REQUIRED, "the first list page (newest messages)", check="url"),
        Option("item", str, REQUIRED, "selector of one message on a list page", check="selector"),
        Option("link", str, REQUIRED, "selector of the link to its detail page, inside `item`",
               check="selector"),
        Option("body", str, REQUIRED, "selector of the message text on the detail page",
               check="selector"),
        Option("next", str, None, "selector of the link to the next list page (none: one "
               "page)", check="selector"),
        Option("time", str, None, "selector of the message's date inside `item`",
               check="selector"),
        Option("title", str, None, "selector of the title inside `item` (else the link's text)",
               check="selector"),
        Option("votes", str, None, "selector of the supporters count inside `item`",
               check="selector"),
        Option("updated", str, None, "selector inside `item` whose text changes when the thread "
               "changes (reply count, 已回复, last reply time): such threads are read again",
               check="selector"),
        Option("pinned", str, None, "selector inside `item` that marks a pinned entry",
               check="selector"),
        Option("pinned_text", str, "置顶", "an entry whose text contains this is pinned"),
        Option("reply", str, None, "selector of the department's reply on the detail page",
               check="selector"),
        Option("detail_time", str, None, "selector of the date on the detail page (wins over "
               "`time`)", check="selector"),
        Option("location", str, None, "selector of the place on the detail page",
               check="selector"),
        Option("id_pattern", str, None, "regex on the link whose first group is the message id "
               "(else the link's path)", check="regex1"),
        Option("encoding", str, None, "the pages' encoding (else the HTTP header, else the "
               "page's meta charset; GBK is read as GB18030)", check="codec"),
        Option("allow_empty", bool, False, "an empty first list page is not an error"),
        Option("ignore_params", list, list(SESSION_PARAMS), "query parameters (and ;path "
               "parameters) left out of a link's id: session ids that change per visit "
               "would make every pull store every thread again"),
        *WALK_OPTIONS,
    )
    def _soup(self, body: bytes, charset: str | None) -> BeautifulSoup:
        return BeautifulSoup(decode_html(body, charset, self.option("encoding")), "html.parser")

    def _text(self, node: Any, selector: str | None) -> str | None:
        if not selector:
            return None
        found = node.select_one(selector)
        return found.get_text(" ", strip=True) if found is not None else None

    def _entry(self, node: Any, page_url: str) -> Entry | None:
        link = node.select_one(self.option("link"))
        if link is None or not link.get("href"):
            return None
        url = urljoin(page_url, str(link["href"]))
        pattern = self.option("id_pattern")
        match = re.search(pattern, url) if pattern else None
        external_id = match.group(1) if match and match.group(1) else \
            link_id(url, self.option("ignore_params"))
        if pattern and not (match and match.group(1)):
            self.warn(f"id_pattern did not match the link {url}: its path is the id")
        if len(external_id) > 128:
            external_id = "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()
        title = self._text(node, self.option("title")) or link.get_text(" ", strip=True)
        when_text = self._text(node, self.option("time"))
        votes = self._text(node, self.option("votes"))
        # with `updated` set, an entry without the element has the stamp "" (a reply
        # that makes it appear is then a change); None: nothing to compare
        stamp = (self._text(node, self.option("updated")) or "") if self.option("updated") \
            else None
        pinned = (bool(self.option("pinned")) and node.select_one(self.option("pinned")) is not None
                  ) or (bool(self.option("pinned_text"))
                        and self.option("pinned_text") in node.get_text(" ", strip=True))
        payload = {"url": url, "external_id": external_id, "title": title, "time": when_text,
                   "votes": _int(votes) if votes else None, "stamp": stamp}
        return Entry(external_id, pinned=pinned, stamp=stamp, when=_time_or_none(when_text),
                     payload=payload)

    async def _list_page(self, url: str) -> tuple[list[Entry], str | None]:
        assert self.fetcher is not None
        page = await self.fetcher.get(url)
        soup = self._soup(page.body, page.charset)
        nodes = soup.select(self.option("item"))
        if not nodes:
            if url == self.option("list_url") and self.option("allow_empty"):
                return [], None
            raise Abort(f"selector {self.option('item')!r} found nothing on {url}: "
                        "has the board's layout changed?")
        entries = [e for e in (self._entry(node, page.url) for node in nodes) if e is not None]
        nxt = soup.select_one(self.option("next")) if self.option("next") else None
        return entries, urljoin(page.url, str(nxt["href"])) if nxt and nxt.get("href") else None

    def parse(self, raw: bytes) -> dict[str, Any]:
        head, _, body = raw.partition(b"\n\n")
        try:
            context = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadItem("quarantined board item without its context line", raw) from None
        soup = self._soup(body, context.get("charset"))
        body_node = soup.select_one(self.option("body"))
        text = body_node.get_text("\n", strip=True) if body_node else ""
        if not text:
            raise BadItem(f"no text at {self.option('body')!r} on {context['url']} "
                          "(truncated page or changed layout)", raw, context["external_id"])
        fields: dict[str, Any] = {"external_id": context["external_id"], "body": text,
                                  "title": context.get("title")}
        when = context.get("time")
        if self.option("detail_time"):
            when = self._text(soup, self.option("detail_time")) or when
        parsed = _time_or_none(when)
        if parsed is not None:
            fields["received_at"] = parsed.isoformat()
        if context.get("votes") is not None:
            fields["votes"] = context["votes"]
        extra: dict[str, Any] = {"url": context["url"]}
        if context.get("stamp") is not None:
            extra["stamp"] = context["stamp"]
        if self.option("reply"):
            reply = soup.select_one(self.option("reply"))
            if reply is not None:
                extra["reply"] = reply.get_text("\n", strip=True)[:5000]
        if self.option("location"):
            place = self._text(soup, self.option("location"))
            if place:
                fields["location"] = place[:200]
        fields["extra"] = extra
        return fields

    async def _detail(self, context: dict[str, Any]) -> bytes:
        assert self.fetcher is not None
        page = await self.fetcher.get(context["url"])
        context = {**context, "charset": page.charset}
        return json.dumps(context, ensure_ascii=False).encode("utf-8") + b"\n\n" + page.body

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem | Checkpoint]:  # type: ignore[override]
        walk = ListingWalk(self._list_page, self.known, self.options, self.warn)
        entries, state = await walk.run(self.option("list_url"), WalkState.load(since))
        self._check_ids(entries)
        down = 0
        for entry in reversed(entries):  # oldest first
            try:
                raw = await self._detail(entry.payload)
            except (Abort, RetryLater) as exc:
                # one thread deleted, moderated away or too big must not stop every
                # other thread: it is quarantined (``hub replay --refetch`` reads it
                # again); a run of transient failures means the board is down
                down = down + 1 if isinstance(exc, RetryLater) else 0
                if down >= DOWN_AFTER:
                    raise
                context = json.dumps(entry.payload, ensure_ascii=False).encode("utf-8")
                yield BadItem(f"detail page unreadable: {exc}", context + b"\n\n",
                              entry.external_id)
                continue
            down = 0
            yield self.item(raw, since)  # type: ignore[arg-type]
        yield Checkpoint(state.dump())

    def _check_ids(self, entries: list[Entry]) -> None:
        """Two different links with one id would store one thread and drop the other
        as a repeat: say so (the id_pattern is too loose)."""
        urls: dict[str, str] = {}
        for entry in entries:
            url = entry.payload["url"]
            first = urls.setdefault(entry.external_id, url)
            if first != url and link_id(first, self.option("ignore_params")) != \
                    link_id(url, self.option("ignore_params")):
                self.warn(f"two links have the id {entry.external_id!r} ({first}, {url}): "
                          "only one is read; make id_pattern capture the whole id")

    async def refetch(self, raw: bytes) -> bytes:
        head, _, _ = raw.partition(b"\n\n")
        try:
            context = json.loads(head.decode("utf-8"))
            url = context["url"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise BadItem("quarantined board item without its context line", raw) from None
        return await self._detail({**context, "url": url})

    def checkpoint_key(self, checkpoint: str) -> Any | None:
        return WalkState.load(checkpoint).newest or ""

    def reset_checkpoint(self, since: datetime | None) -> str | None:
        floor = since or datetime(1970, 1, 1, tzinfo=UTC)
        return WalkState(until=floor.isoformat()).dump()

    def reset_note(self, since: datetime | None) -> str:
        return ("the next pulls walk the list without stopping at stored messages, down to "
                + (f"messages older than {since:%Y-%m-%d}" if since else "its end")
                + f" ({self.option('max_pages')} pages a pull); stored ones are not read again")


def _time_or_none(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    digits = re.sub(r"\D", "", text)
    return int(digits) if digits else None
