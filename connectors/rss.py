"""RSS 2.0 and Atom feeds, which many government sites publish.

Order: none is assumed. A feed shows its latest items in whatever order the site
sorts them, and an item published late may carry an old date, so no date decides
what is read: every pull reads every item in the feed (oldest first), the queue
ignores the ones already stored, and one whose text changed updates the stored
appeal. Items are lost only if more arrive between two pulls than the feed shows:
when none of a feed's items was stored before (and the source has stored items),
the pull warns that items may have left the feed unread: pull more often.

The checkpoint is the newest item date seen, an informative high-water mark. An
item is stored for quarantine as its own XML element; ``hub replay ID --refetch``
finds it in the feed again by its guid.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup

from connectors.base import Abort, BadItem, CannotRefetch, Checkpoint, Connector, RawItem
from connectors.options import REQUIRED, Option
from connectors.text import decode_html, parse_time

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


def _link(el: ET.Element) -> str | None:
    """The item's page: RSS <link>text</link>, or the Atom link to the entry itself
    (rel="alternate" or no rel), not its edit, self or enclosure links."""
    text = _text(el, "link")
    if text:
        return text
    atom = el.findall(f"{ATOM}link")
    for found in sorted(atom, key=lambda a: a.get("rel", "alternate") != "alternate"):
        if found.get("href"):
            return found.get("href")
    return None


def _guid(el: ET.Element) -> str | None:
    return _text(el, "guid", f"{ATOM}id") or _link(el)


_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["'][^>]*\?>""",
                          re.I)


def parse_feed(body: bytes, header_charset: str | None = None) -> ET.Element:
    """The feed's root element. Python's XML parser knows only single-byte and UTF
    encodings; Chinese sites often declare GB2312 or GBK (or only say so in the
    HTTP header), so such a feed is decoded first (as GB18030, their superset)."""
    try:
        return ET.fromstring(body)
    except (ET.ParseError, ValueError):  # ValueError: "multi-byte encodings are not supported"
        declared = _DECLARATION.match(body)
        codec = declared.group(1).decode("ascii") if declared else header_charset
        if not codec or codec.lower().replace("_", "-") in ("utf-8", "utf8"):
            raise
        text = decode_html(body[declared.end():] if declared else body, None, codec)
        return ET.fromstring(text.lstrip("\ufeff"))


class RssConnector(Connector):
    """an RSS 2.0 or Atom feed"""

    kind = "rss"
    OPTIONS = (Option("url", str, REQUIRED, "the feed's address", check="url"),)

    def parse(self, raw: bytes) -> dict[str, Any]:
        try:
            el = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise BadItem(f"malformed feed item: {exc}", raw) from None
        link = _link(el)
        guid = _guid(el)
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

    async def _items(self) -> list[ET.Element]:
        assert self.fetcher is not None
        page = await self.fetcher.get(self.option("url"))
        try:
            root = parse_feed(page.body, page.charset)
        except ET.ParseError as exc:
            raise Abort(f"the feed is not well-formed XML: {exc}") from None
        items = root.findall("./channel/item") or root.findall(f"{ATOM}entry")
        if not items and root.tag not in ("rss", f"{ATOM}feed"):
            raise Abort(f"not an RSS or Atom feed (root element {root.tag!r})")
        return items

    async def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem | Checkpoint]:  # type: ignore[override]
        parsed: list[tuple[datetime | None, RawItem | BadItem]] = []
        for el in await self._items():
            item = self.item(ET.tostring(el, encoding="utf-8"), since)  # type: ignore[arg-type]
            when = None
            if isinstance(item, RawItem) and "received_at" in item.fields:
                when = parse_time(item.fields["received_at"])
            parsed.append((when, item))
        ids = [i.fields["external_id"] for _, i in parsed if isinstance(i, RawItem)]
        if ids and self.known.any_stored and not await self.known.stamps(ids):
            self.warn(f"none of the feed's {len(ids)} items was stored before: items may "
                      "have left the feed between two pulls unread; pull more often")
        parsed.sort(key=lambda p: (p[0] is not None, p[0].timestamp() if p[0] else 0.0))
        for _, item in parsed:
            yield item
        dates = [when for when, _ in parsed if when is not None]
        newest = max([d.isoformat() for d in dates] + ([since] if since else []), default=None)
        if newest:
            yield Checkpoint(newest)

    async def refetch(self, raw: bytes) -> bytes:
        try:
            wanted = _guid(ET.fromstring(raw))
        except ET.ParseError:
            wanted = None
        if not wanted:
            raise CannotRefetch("the stored item has no guid or link to find it by")
        for el in await self._items():
            if _guid(el) == wanted:
                return ET.tostring(el, encoding="utf-8")
        raise CannotRefetch(f"{wanted} is no longer in the feed")

    def checkpoint_key(self, checkpoint: str) -> Any | None:
        try:
            return parse_time(checkpoint)
        except ValueError:
            return None
