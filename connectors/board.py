"""Message boards (留言板/问政): HTML list pages and detail pages, read with CSS
selectors from config, so a new board needs a config entry, not code.

Options: list_url; selectors item, link, time (on list pages), next (the next
list page), body (on detail pages); optional title, votes, reply, detail_time,
location, id_pattern (a regex on the link whose first group is the id),
encoding (else from the HTTP header or the page's <meta>, GBK read as GB18030),
max_pages (50), allow_empty (false).

The board lists newest first. A pull walks list pages until it reaches messages
older than the checkpoint (the time of the newest message queued), then reads
the details oldest first, so every committed batch may move the checkpoint
forward. Messages at exactly the checkpoint time are read again: the queue makes
that a no-op.

A quarantined detail page is stored as one JSON line of context (url, id, list
fields), a blank line, then the page's bytes exactly as received.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlparse

from bs4 import BeautifulSoup

from connectors.base import Abort, BadItem, Connector, RawItem
from connectors.text import decode_html, parse_time


class BoardConnector(Connector):
    kind = "board"

    def _soup(self, body: bytes, charset: str | None) -> BeautifulSoup:
        return BeautifulSoup(decode_html(body, charset, self.options.get("encoding")),
                             "html.parser")

    def _entry(self, node: Any, page_url: str) -> dict[str, Any] | None:
        link = node.select_one(self.option("link"))
        if link is None or not link.get("href"):
            return None
        url = urljoin(page_url, str(link["href"]))
        pattern = self.options.get("id_pattern")
        match = re.search(pattern, url) if pattern else None
        external_id = match.group(1) if match else urlparse(url).path + (
            "?" + urlparse(url).query if urlparse(url).query else "")
        title_node = node.select_one(self.options.get("title", self.option("link")))
        time_node = node.select_one(self.option("time"))
        votes_node = node.select_one(self.options["votes"]) if self.options.get("votes") else None
        return {"url": url, "external_id": external_id,
                "title": title_node.get_text(" ", strip=True) if title_node else None,
                "time": time_node.get_text(" ", strip=True) if time_node else None,
                "votes": _int(votes_node.get_text(strip=True)) if votes_node else None}

    async def _listing(self, since: datetime | None) -> list[dict[str, Any]]:
        assert self.fetcher is not None
        url: str | None = self.option("list_url")
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page_no in range(int(self.options.get("max_pages", 50))):
            if url is None:
                break
            page = await self.fetcher.get(url)
            soup = self._soup(page.body, page.charset)
            nodes = soup.select(self.option("item"))
            if not nodes:
                if page_no == 0 and self.options.get("allow_empty"):
                    return []
                raise Abort(f"selector {self.option('item')!r} found nothing on {url}: "
                            "has the board's layout changed?")
            reached_old = False
            for node in nodes:
                entry = self._entry(node, page.url)
                if entry is None or entry["external_id"] in seen:
                    continue  # a message repeated across pages while the board moved
                when = _time_or_none(entry["time"])
                if since is not None and when is not None and when < since:
                    reached_old = True
                    break
                seen.add(entry["external_id"])
                entries.append(entry)
            if reached_old:
                break
            nxt = soup.select_one(self.option("next"))
            url = urljoin(page.url, str(nxt["href"])) if nxt and nxt.get("href") else None
        return entries

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
        if self.options.get("detail_time"):
            node = soup.select_one(self.options["detail_time"])
            when = node.get_text(" ", strip=True) if node else when
        parsed = _time_or_none(when)
        if parsed is not None:
            fields["received_at"] = parsed.isoformat()
        if context.get("votes") is not None:
            fields["votes"] = context["votes"]
        extra: dict[str, Any] = {"url": context["url"]}
        if self.options.get("reply"):
            reply = soup.select_one(self.options["reply"])
            if reply is not None:
                extra["reply"] = reply.get_text("\n", strip=True)[:5000]
        if self.options.get("location"):
            node = soup.select_one(self.options["location"])
            if node is not None:
                fields["location"] = node.get_text(" ", strip=True)[:200]
        fields["extra"] = extra
        return fields

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:  # type: ignore[override]
        assert self.fetcher is not None
        since_dt = _time_or_none(since)
        entries = await self._listing(since_dt)
        for entry in reversed(entries):  # oldest first
            page = await self.fetcher.get(entry["url"])
            context = {**entry, "charset": page.charset}
            raw = json.dumps(context, ensure_ascii=False).encode("utf-8") + b"\n\n" + page.body
            when = _time_or_none(entry["time"])
            checkpoint = when.isoformat() if when else (since or "")
            yield self.item(raw, checkpoint)


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
