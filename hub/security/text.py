"""Text and numbers from outside, made safe to store and compare.

PostgreSQL and SQLite both refuse a string holding a NUL or a lone UTF-16 surrogate
(``"\\ud800"`` is valid JSON but not Unicode text); ids and counters beyond 64 bits
overflow either database. Everything that reaches SQL is checked here first.
"""

from __future__ import annotations

import secrets

INT64_MAX = 2**63 - 1
ID_MAX = 2**31 - 1  # id columns are INTEGER: PostgreSQL refuses a larger parameter


def unstorable(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not valid Unicode text)"
    return None


def as_bytes(value: str) -> bytes:
    """UTF-8 bytes of any Python string, lone surrogates included."""
    return value.encode("utf-8", "surrogatepass")


def same_secret(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a code, token or key, as bytes: ``compare_digest``
    refuses str with non-ASCII characters, which an attacker chooses freely."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(as_bytes(sent), as_bytes(expected))


def parse_id(raw: object, maximum: int = ID_MAX, minimum: int = 1) -> int | None:
    """A positive whole number written in ASCII digits, at most ``maximum`` (the
    largest id an INTEGER column holds), else None.

    ``str.isdigit`` accepts '²' and full-width digits, and ``int`` accepts
    '１２' and '1_000': none of those is an id."""
    text = str(raw)
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def clean_line(value: str, limit: int) -> str:
    """One line of form input: control characters and lone surrogates removed, cut to
    ``limit`` characters (names, notes, usernames)."""
    kept = "".join(ch for ch in value if ch >= " " and ch != "\x7f"
                   and not "\ud800" <= ch <= "\udfff")
    return kept.strip()[:limit]
