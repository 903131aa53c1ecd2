"""JSON request bodies, parsed so no input can become a 500.

``json.loads`` raises RecursionError on deep nesting, ValueError (not JSONDecodeError)
on an integer of more than 4,300 digits, and accepts NaN and lone surrogates that the
databases then refuse. Here nesting is bounded, integers outside 64 bits and
non-finite numbers become ``Unrepresentable`` markers (so the validator can name the
field), and ``find_unstorable`` walks a value for anything the database cannot keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.security.text import INT64_MAX, unstorable

MAX_DEPTH = 32


class BodyError(ValueError):
    """The body is not acceptable JSON: an HTTP status, a code and a message."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass(frozen=True)
class Unrepresentable:
    """A number that no column can hold (too large, NaN, Infinity), as written."""

    text: str


def _int(text: str) -> int | Unrepresentable:
    digits = text.lstrip("-")
    if len(digits) > 19:
        return Unrepresentable(text)
    value = int(text)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else Unrepresentable(text)


def _float(text: str) -> float | Unrepresentable:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else Unrepresentable(text)


def parse_json(raw: bytes) -> Any:
    """Decode UTF-8 JSON; raise BodyError for bad encoding, syntax or nesting depth."""
    if not raw:
        raise BodyError(400, "empty_body", "the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, "invalid_encoding",
                        f"the body is not valid UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float,
                           parse_constant=Unrepresentable)
    except RecursionError:
        raise BodyError(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BodyError(400, "invalid_json",
                        f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                        ) from None
    except ValueError as exc:  # e.g. a number json cannot convert
        raise BodyError(400, "invalid_json", f"malformed JSON: {exc}"[:200]) from None
    if _depth(value) > MAX_DEPTH:
        raise BodyError(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def find_unstorable(value: Any, path: str = "") -> tuple[str, str, str] | None:
    """The first (field path, code, reason) in ``value`` that cannot be stored, or
    None; code is ``invalid_text`` or ``number_too_large``."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            reason = unstorable(item)
            if reason:
                return where or "body", "invalid_text", reason
        elif isinstance(item, Unrepresentable):
            return (where or "body", "number_too_large",
                    f"holds the number {item.text[:30]}, which cannot be stored")
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                reason = unstorable(key)
                if reason:
                    return (f"{where}.{key!a}" if where else ascii(key)), "invalid_text", \
                        f"a key {reason}"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None


def loads_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body whose every value can be stored, else BodyError."""
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise BodyError(422, "invalid_body", "send a JSON object")
    bad = find_unstorable(value)
    if bad:
        where, code, reason = bad
        raise BodyError(422, code, f"{where} {reason}", field=where)
    return value
