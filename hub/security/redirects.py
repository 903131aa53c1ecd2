"""Where a login may send the browser next: only a path on this site.

Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
'/\t/evil.com' and '/\\evil.com' both mean '//evil.com', another site. The value is
cleaned the way a browser would read it before it is judged.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT = "/inbox"


def safe_next(value: object, default: str = DEFAULT) -> str:
    text = "".join(ch for ch in str(value or "") if ch > " " and ch != "\x7f")
    text = text.replace("\\", "/")
    if not text.startswith("/") or text.startswith("//") or len(text) > 2000:
        return default
    try:
        parts = urlsplit(text)
    except ValueError:
        return default
    if parts.scheme or parts.netloc:
        return default
    try:
        text.encode("ascii")
    except UnicodeEncodeError:  # a Location header must be ASCII; quote nothing here
        return default
    return text
