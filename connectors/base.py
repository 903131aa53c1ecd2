"""The connector contract: a small declarative class with one async ``fetch(since)``.

A connector yields ``RawItem``s newer than the checkpoint it is given, each
carrying the checkpoint to store once it and everything before it are queued.
Its errors tell the runner what to do:

- ``RetryLater``: a transient failure (5xx, timeout, 429); nothing is lost, the
  checkpoint stays where the last committed batch left it.
- ``Abort``: the source is unusable (layout changed, auth refused); stop the pull,
  checkpoint unmoved, and report it.
- ``BadItem``: this one item cannot be parsed; quarantine its raw bytes and go on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp


class RetryLater(Exception):
    """Transient failure: try the pull again later."""


class Abort(Exception):
    """The source cannot be read as configured; the checkpoint does not move."""


class BadItem(Exception):
    """One item cannot be parsed; it is quarantined with its raw bytes."""

    def __init__(self, reason: str, raw: bytes, external_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.raw, self.external_id = reason, raw, external_id


@dataclass(frozen=True)
class RawItem:
    """One appeal as the channel gave it, mapped to the intake fields."""

    fields: dict[str, Any]
    checkpoint: str


class Connector:
    kind: ClassVar[str] = ""

    def __init__(self, name: str, options: dict[str, Any],
                 http: aiohttp.ClientSession | None) -> None:
        from connectors.fetch import Fetcher

        self.name = name
        self.options = options
        self.http = http
        self.fetcher = Fetcher(http, options) if http is not None else None

    def option(self, key: str) -> Any:
        """A required option; a missing one is a configuration error (Abort)."""
        if key not in self.options:
            raise Abort(f"source {self.name!r} needs the option {key!r} in sources.toml")
        return self.options[key]

    def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem]:
        raise NotImplementedError

    def item(self, raw: bytes, checkpoint: str) -> RawItem | BadItem:
        """One item's raw bytes, parsed: what ``fetch`` yields (bad ones are not raised)."""
        try:
            return RawItem(self.parse(raw), checkpoint=checkpoint)
        except BadItem as bad:
            return bad

    def parse(self, raw: bytes) -> dict[str, Any]:
        """Intake fields from one item's raw bytes (as quarantined); raises BadItem.

        ``fetch`` uses it for every item, and quarantine replay uses it again once
        the parser is fixed.
        """
        raise BadItem(f"{type(self).__name__} cannot re-parse stored items", raw)


def json_bytes(obj: Any) -> bytes:
    """An item of a JSON page as the raw bytes kept for quarantine and replay."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def json_page(body: bytes, what: str) -> Any:
    """A whole JSON page; one that cannot be read stops the pull (Abort)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Abort(f"unreadable {what}: {exc}") from None
