"""The connector contract: a small declarative class with one async ``fetch(since)``.

A connector declares its ``kind``, its ``OPTIONS`` (connectors/options.py) and how
to read its channel; the runner (connectors/runner.py) does everything else. It
yields ``RawItem``s (or ``BadItem``s) and, optionally, a final ``Checkpoint``.

The checkpoint contract (every connector relies on it; none repeats it):

1. The checkpoint is a string the runner keeps per source and hands to
   ``fetch(since)`` at the next pull. What it means is the connector's business (a
   cursor, a last id, the state of a list walk); storing it is the runner's.
2. Each ``RawItem`` carries the checkpoint that is safe to store once it and every
   item yielded before it are queued: the runner stores it in the same transaction
   as the batch that ends with that item, so a crash re-reads, never skips.
3. A ``Checkpoint`` yielded on its own is stored once everything yielded before it
   is queued: the way to record progress when nothing was new, or a state that is
   only true once the whole pull is in (the end of a list walk).
4. A pull that fails keeps what it queued before the failure and stores no
   checkpoint after it.
5. Never backwards: where checkpoints have an order (``checkpoint_key``), a new one
   that sorts before the stored one is ignored. Only an operator moves it back
   (``hub source reset``, through ``reset_checkpoint``), with an audit event.
6. Repeats are free: the queue is unique per (source, external id), so re-reading
   overlapping pages never doubles an item; an item read again whose content
   changed upstream updates the stored appeal (an ``upstream_update`` event).

Incremental reads are decided by what is stored, not by dates: ``self.known``
tells a connector which of a page's ids are already queued (and with which
``stamp``, the list-visible mark of a change), so a walk down a newest-first list
can stop where stored items begin, whatever dates the channel prints.

Errors tell the runner what to do:

- ``RetryLater``: a transient failure (5xx, timeout, 429) that outlasted the retries.
- ``Abort``: the source is unusable as configured (layout changed, auth refused).
- ``BadItem``: this one item cannot be parsed; quarantine its raw bytes and go on.
Any other exception is a failure too: recorded in the source's health, counted by
the circuit breaker, never a traceback for the operator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import aiohttp

from connectors.options import HTTP_OPTIONS, Option, resolved


class RetryLater(Exception):
    """Transient failure: try the pull again later."""


class Abort(Exception):
    """The source cannot be read as configured; the checkpoint does not move."""


class CannotRefetch(Exception):
    """This kind cannot download one item again (the reason says what to do instead)."""


class BadItem(Exception):
    """One item cannot be parsed; it is quarantined with its raw bytes."""

    def __init__(self, reason: str, raw: bytes, external_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.raw, self.external_id = reason, raw, external_id


@dataclass(frozen=True)
class RawItem:
    """One appeal as the channel gave it, mapped to the intake fields."""

    fields: dict[str, Any]
    checkpoint: str | None  # None: this item does not move the checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint to store once everything yielded before it is queued."""

    value: str


StampLookup = Callable[[list[str]], Awaitable[dict[str, str | None]]]


class KnownItems:
    """What the queue already holds for this source, asked page by page."""

    def __init__(self, lookup: StampLookup | None = None, any_stored: bool = False) -> None:
        self._lookup = lookup
        self.any_stored = any_stored  # has this source ever queued anything?

    async def stamps(self, external_ids: Iterable[str]) -> dict[str, str | None]:
        """The stored ids among ``external_ids``, each with the stamp stored with it."""
        ids = sorted(set(external_ids))
        if self._lookup is None or not ids:
            return {}
        return await self._lookup(ids)


class Connector:
    """Subclass per channel kind: set ``kind`` and ``OPTIONS``, write ``fetch`` and
    ``parse``; the registry (connectors/registry.py) finds it by itself."""

    kind: ClassVar[str] = ""
    OPTIONS: ClassVar[tuple[Option, ...]] = ()
    pulls: ClassVar[bool] = True  # reads over HTTP, so the HTTP options apply

    def __init__(self, name: str, options: dict[str, Any],
                 http: aiohttp.ClientSession | None) -> None:
        from connectors.fetch import Fetcher

        self.name = name
        self.options = resolved(self.declared_options(), options)
        self.http = http
        self.fetcher = Fetcher(http, self.options) if http is not None else None
        self.known = KnownItems()
        self.warnings: list[str] = []

    @classmethod
    def declared_options(cls) -> tuple[Option, ...]:
        return (*cls.OPTIONS, *(HTTP_OPTIONS if cls.pulls else ()))

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or cls.__module__).strip().splitlines()[0]

    def option(self, key: str) -> Any:
        """A declared option's value (the config's, else its default)."""
        return self.options[key]

    def warn(self, message: str) -> None:
        """Something the operator must know although the pull went on (items may
        have been skipped): shown in the pull's summary and in `hub sources`."""
        self.warnings.append(message)

    def fetch(self, since: str | None) -> AsyncIterator[RawItem | BadItem | Checkpoint]:
        raise NotImplementedError

    def item(self, raw: bytes, checkpoint: str | None) -> RawItem | BadItem:
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

    async def refetch(self, raw: bytes) -> bytes:
        """Download one quarantined item again (a page cut off in transit is a
        transport fault): its new raw bytes, for ``parse``."""
        raise CannotRefetch(f"a {self.kind} source cannot download one item again; "
                            f"`hub source reset {self.name}` re-reads the channel")

    def checkpoint_key(self, checkpoint: str) -> Any | None:
        """A sortable key of a checkpoint, or None where checkpoints carry no order
        (an opaque cursor); the runner never stores one that sorts before the stored."""
        return None

    def reset_checkpoint(self, since: datetime | None) -> str | None:
        """The checkpoint that makes the next pull re-read from ``since`` (None: from
        the start of what the channel offers). Repeats are ignored by the queue."""
        return None

    def reset_note(self, since: datetime | None) -> str:
        """What the next pull will do after ``reset_checkpoint(since)``, for the operator."""
        return ("the next pull reads the channel from the start of what it offers"
                + (" (it cannot start at a date)" if since else "")
                + "; items already stored are skipped")


def json_bytes(obj: Any) -> bytes:
    """An item of a JSON page as the raw bytes kept for quarantine and replay."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def json_page(body: bytes, what: str) -> Any:
    """A whole JSON page; one that cannot be read stops the pull (Abort)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Abort(f"unreadable {what}: {exc}") from None
