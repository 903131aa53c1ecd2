"""RSS 2.0 and Atom feeds, which many government sites publish.

Options: url. Items are read oldest first; the checkpoint is the newest item time
queued, and items at or after it are read again (the queue ignores repeats). An
item is stored for quarantine as its own XML element.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

from bs4 import BeautifulSoup

from connectors.base import Abort, BadItem, Connector, RawItem
from connectors.text import parse_time

ATOM = "{http://www.w3.org/2005/Atom}"


def _text(el: ET.Element, *names: str) -> str | None:
    for name in names:
        found = el.find(name)
        if found is not None:
            if found.text and found.text.strip():
                return found.text.strip()
            if found.get("href"):
                return found.get("href")
    return None


class RssConnector(Connector):
    kind = "rss"

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            el = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise BadItem(f"malformed feed item: {exc}", raw) from None
        link = _text(el, "link", f"{ATOM}link")
        guid = _text(el, "guid", f"{ATOM}id") or link
        html = _text(el, "description", f"{ATOM}content", f"{ATOM}summary",
                     "{http://purl.org/rss/1.0/modules/content/}encoded") or ""
        body = BeautifulSoup(html, "html.parser").get_text("\n", strip=True)
        title = _text(el, "title", f"{ATOM}title")
        if not guid:
            raise BadItem("feed item without guid or link", raw)
        if not body and not title:
            raise BadItem("feed item without text", raw, guid[:128])
        external_id = guid if len(guid) <= 128 else hashlib.sha256(guid.encode()).hexdigest()
        fields: dict[str, Any] = {"external_id": external_id, "body": body or title,
                                  "title": title, "extra": {"url": link}}
        when = _text(el, "pubDate", f"{ATOM}published", f"{ATOM}updated")
        if when:
            try:
                fields["received_at"] = parse_time(when).isoformat()
            except ValueError:
                raise BadItem(f"unreadable date {when!r}", raw, external_id) from None
        return fields

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:  # type: ignore[override]
        assert self.fetcher is not None
        page = await self.fetcher.get(self.option("url"))
        try:
            root = ET.fromstring(page.body)
        except ET.ParseError as exc:
            raise Abort(f"the feed is not well-formed XML: {exc}") from None
        items = root.findall("./channel/item") or root.findall(f"{ATOM}entry")
        if not items and root.tag not in ("rss", f"{ATOM}feed"):
            raise Abort(f"not an RSS or Atom feed (root element {root.tag!r})")
        since_dt = parse_time(since) if since else None
        parsed: list[tuple[Any, RawItem | BadItem]] = []
        for el in items:
            raw = ET.tostring(el, encoding="utf-8")
            try:
                fields = self.parse(raw)
            except BadItem as bad:
                parsed.append((None, bad))
                continue
            when = parse_time(fields["received_at"]) if "received_at" in fields else None
            if since_dt is not None and when is not None and when < since_dt:
                continue
            parsed.append((when, RawItem(fields, checkpoint="")))
        parsed.sort(key=lambda p: (p[0] is not None, p[0].timestamp() if p[0] else 0.0))
        newest = since
        for when, item in parsed:
            if isinstance(item, RawItem):
                newest = when.isoformat() if when else newest
                yield RawItem(item.fields, checkpoint=newest or "")
            else:
                yield item
