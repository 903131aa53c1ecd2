"""Connector options, declared once: name, type, default, meaning and what a value
must look like. The same declarations check config/sources.toml at start, fill in
defaults for the connector, and print the reference (`hub sources --kinds`, and the
README table, which a test keeps equal to them).
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

REQUIRED: Any = object()  # the default of an option a source must set


@dataclass(frozen=True)
class Option:
    """One setting of a channel kind, as a city writes it in sources.toml."""

    name: str
    type: type
    default: Any
    meaning: str
    # "url" | "selector" | "regex" | "regex1" (with a group) | "codec" | "positive"
    check: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def shown_default(self) -> str:
        if self.required:
            return "required"
        if self.default is None:
            return "—"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return repr(self.default) if isinstance(self.default, str) else str(self.default)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            return f"must be {_TYPE_WORDS[self.type]}, got {type(value).__name__} {value!r}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}, got {value!r}"
        if self.check == "positive" and value <= 0:
            return f"must be greater than 0, got {value}"
        if self.check == "url":
            return _url_problem(value)
        if self.check == "selector":
            return _selector_problem(value)
        if self.check == "codec":
            try:
                codecs.lookup(value)
            except LookupError:
                return f"is not an encoding Python knows: {value!r}"
        if self.check in ("regex", "regex1"):
            try:
                compiled = re.compile(value)
            except re.error as exc:
                return f"is not a valid regular expression: {exc}"
            if self.check == "regex1" and compiled.groups < 1:
                return "needs one (group) around the part to keep"
        return None


_TYPE_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
               dict: "a table", list: "a list"}


def _url_problem(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https"):
        return f"must be an http:// or https:// address, got {value!r}"
    if not parsed.hostname or any(c.isspace() for c in value):
        return f"is not a well-formed address: {value!r}"
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return f"has an invalid port: {value!r}"
    return None


def _selector_problem(value: str) -> str | None:
    import soupsieve

    if not value.strip():
        return "must not be empty"
    try:
        soupsieve.compile(value)
    except soupsieve.SelectorSyntaxError as exc:
        first = str(exc).splitlines()[0]
        return f"is not a valid CSS selector ({first})"
    return None


# -- politeness and HTTP, shared by every connector that pulls ---------------------------
HTTP_OPTIONS: tuple[Option, ...] = (
    Option("timeout_seconds", float, 20.0, "give up on one request after this long",
           check="positive"),
    Option("max_response_bytes", int, 5 * 1024 * 1024,
           "refuse a response larger than this (a runaway page stops the pull)", check="positive"),
    Option("min_interval_seconds", float, 0.5,
           "at least this long between two requests to the channel"),
    Option("retries", int, 3, "retries of a request that failed in a way worth retrying "
           "(timeouts, 429, 5xx)"),
    Option("backoff_seconds", float, 1.0, "first wait before a retry; doubled each time, "
           "with jitter; a Retry-After header wins"),
    Option("max_backoff_seconds", float, 30.0, "longest wait between two retries"),
    Option("headers", dict, None, "extra HTTP headers to send (a table)"),
    Option("token", str, None, "sent as `Authorization: Bearer …`"),
)

# keys of a [[sources]] table that belong to the hub, not to the connector
SOURCE_KEYS: dict[str, str] = {
    "name": "the source's name (letters, digits, - and _), used by `hub pull NAME`",
    "kind": "which connector reads it",
    "title": "the channel's name as staff see it",
    "interval_seconds": "pull every this many seconds inside `hub serve` (0: never)",
    "enabled": "false keeps the source configured but unused",
    "api_key_env": "push sources: the environment variable holding the API key",
    "dev_api_key": "push sources: a key accepted only when HUB_ENV=dev or test",
}


@dataclass(frozen=True)
class OptionError:
    option: str
    reason: str


def check_options(declared: Iterable[Option], given: Mapping[str, Any]) -> list[OptionError]:
    """Every mistake in ``given`` against the declarations: unknown (with a guess at
    what was meant), missing when required, or a value of the wrong shape."""
    by_name = {o.name: o for o in declared}
    errors: list[OptionError] = []
    for key, value in given.items():
        option = by_name.get(key)
        if option is None:
            guess = difflib.get_close_matches(key, [*by_name, *SOURCE_KEYS], n=1, cutoff=0.6)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            errors.append(OptionError(key, f"unknown option{hint}"))
            continue
        reason = option.problem(value)
        if reason:
            errors.append(OptionError(key, reason))
    for option in by_name.values():
        if option.required and option.name not in given:
            errors.append(OptionError(option.name, f"missing required option: {option.meaning}"))
    return errors


def resolved(declared: Iterable[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """The options with every declared default filled in (numbers as their type)."""
    out: dict[str, Any] = {}
    for option in declared:
        if option.name in given:
            value = given[option.name]
            out[option.name] = float(value) if option.type is float and not isinstance(
                value, bool) and isinstance(value, int) else value
        elif not option.required:
            out[option.name] = option.default
    return out
