"""Decoding pages and reading the dates channels print."""

from __future__ import annotations

import re
from datetime import datetime

from hub.intake_schema import parse_datetime

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.I)
# GBK and GB2312 pages often hold characters only GB18030 (their superset) decodes
_SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030"}
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().lower()
    return _SUPERSETS.get(name, name)


def decode_html(body: bytes, header_charset: str | None, configured: str | None = None) -> str:
    """Configured encoding, else the HTTP header, else <meta charset>, else UTF-8;
    a page that does not decode that way is tried as GB18030 before giving up."""
    meta = _META.search(body[:4096])
    for codec in (_codec(configured), _codec(header_charset),
                  _codec(meta.group(1).decode("ascii") if meta else None), "utf-8"):
        if not codec:
            continue
        try:
            return body.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return body.decode("gb18030")
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace")


def parse_time(text: str) -> datetime:
    """'2026-11-20 09:30', '2026/11/20', '2026年11月20日 09:30' or RFC 822 (RSS)."""
    text = text.strip()
    text = _CN_DATE.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text)
    text = re.sub(r"\s+", " ", text)
    try:
        return parse_datetime(text)
    except ValueError:
        import email.utils

        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise ValueError(f"unreadable time {text!r}") from None
        return parse_datetime(parsed.isoformat())
