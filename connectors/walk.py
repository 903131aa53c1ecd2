"""Walking a newest-first list (a message board, a JSON API paged by page number)
until it reaches what is already stored, never stopping at a date.

Real boards break every date rule: posts appear after moderation (审核后公开) with
their original time, lists are ordered by the latest reply, old notices are pinned
(置顶) on top of page 1. So a walk stops only after ``stop_after_known`` consecutive
entries that are stored and unchanged (or ``stop_after_known_pages`` whole pages of
them); pinned entries neither stop it nor break a run; an entry whose list-visible
``stamp`` (reply count, 已回复, last reply time) differs from the stored one is read
again as an upstream update.

``max_pages`` bounds one pull. A next link back to a page this walk already read,
or a page that repeats the one before it (APIs that serve their last page for any
page number past the end), is the end of the list, not a reason to read on. A walk
that runs out of pages before reaching stored items leaves a *gap* (the page it
stopped on and the last entry it read); the pull warns that items may not have
been read yet, and the next pull reads the new top of the list, then carries on
from the gap until it joins what is stored or the list ends. Entries only move down
a newest-first list as new ones arrive, so the walk restarts on the gap's own page
and skips down to its last entry.

Every ``recheck_hours`` a walk goes at least ``recheck_pages`` deep whatever it
finds, which catches a post a board inserts below the top at its original date.
``hub source reset NAME --since DATE`` makes the next walks ignore stored items
until they pass ``stop_after_known`` consecutive entries older than DATE.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import KnownItems
from connectors.options import Option
from connectors.text import parse_time
from hub.models import utcnow

MAX_GAPS = 20
BOUNDARY = 3  # entries remembered where a walk stopped, to find the place again

WALK_OPTIONS: tuple[Option, ...] = (
    Option("max_pages", int, 50, "most list pages one pull reads; a pull that needs more "
           "warns and carries on at the next pull", check="positive"),
    Option("stop_after_known", int, 20, "stop after this many consecutive list entries that "
           "are already stored and unchanged (pinned entries do not count)", check="positive"),
    Option("stop_after_known_pages", int, 0,
           "also stop after this many whole pages of stored entries (0: off)"),
    Option("recheck_hours", float, 24.0, "how often a walk goes `recheck_pages` deep whatever "
           "it finds (catches posts inserted below the top; 0: never)"),
    Option("recheck_pages", int, 5, "how deep that periodic walk goes"),
)


@dataclass
class Entry:
    """One entry of a list page."""

    external_id: str
    pinned: bool = False
    stamp: str | None = None  # changes when the item changes upstream (a reply)
    when: datetime | None = None  # the date the list prints: informative only
    payload: Any = None  # what the connector needs to read the item


@dataclass
class Gap:
    ref: str  # the page a walk stopped on (URL or page number)
    boundary: list[str]  # the last entries it read there
    until: str | None = None  # a reset's date floor, carried on


@dataclass
class WalkState:
    """What a list walk keeps in its source's checkpoint (compact JSON)."""

    newest: str | None = None  # newest date seen: an ordered, informative high-water mark
    rechecked: str | None = None
    until: str | None = None  # set by a reset: re-read down to this date
    gaps: list[Gap] = field(default_factory=list)

    @classmethod
    def load(cls, checkpoint: str | None) -> WalkState:
        if not checkpoint or not checkpoint.startswith("{"):
            # an old time checkpoint (or none): walk by what is stored from now on
            return cls(newest=_iso_or_none(checkpoint))
        data = json.loads(checkpoint)
        return cls(newest=data.get("newest"), rechecked=data.get("rechecked"),
                   until=data.get("until"),
                   gaps=[Gap(*g) for g in data.get("gaps", [])])

    def dump(self) -> str:
        data: dict[str, Any] = {"newest": self.newest}
        if self.rechecked:
            data["rechecked"] = self.rechecked
        if self.until:
            data["until"] = self.until
        if self.gaps:
            data["gaps"] = [[g.ref, g.boundary, g.until] for g in self.gaps]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _iso_or_none(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return parse_time(text).isoformat()
    except ValueError:
        return None


PageReader = Callable[[str], Awaitable[tuple[list[Entry], str | None]]]


class ListingWalk:
    """One pull's walk: ``run`` returns the entries to read, newest first."""

    def __init__(self, read_page: PageReader, known: KnownItems, options: dict[str, Any],
                 warn: Callable[[str], None]) -> None:
        self.read_page, self.known, self.warn = read_page, known, warn
        self.stop_after = int(options["stop_after_known"])
        self.stop_pages = int(options["stop_after_known_pages"])
        self.max_pages = self.budget = int(options["max_pages"])
        self.recheck = timedelta(hours=float(options["recheck_hours"]))
        self.recheck_pages = int(options["recheck_pages"])
        self.to_read: list[Entry] = []
        self.seen: set[str] = set()
        self._reached_end = False  # did the last part reach the end of the list?

    async def run(self, start: str, state: WalkState) -> tuple[list[Entry], WalkState]:
        now = utcnow()
        due = bool(self.recheck) and (state.rechecked is None or
                                      datetime.fromisoformat(state.rechecked) + self.recheck <= now)
        new = WalkState(newest=state.newest, rechecked=now.isoformat() if due else state.rechecked)
        gaps: list[Gap] = []
        head = await self._part(start, None, state.until, self.recheck_pages if due else 0)
        if head is not None:
            gaps.append(head)
        # a walk that read the whole list has closed every older gap
        older = [] if head is None and self._reached_end else state.gaps
        head_pages = self.max_pages - self.budget
        for gap in older:
            if self.budget <= 0:
                gaps.append(gap)
                continue
            before = len(self.to_read)
            left = await self._part(gap.ref, gap.boundary, gap.until, 0)
            if left is not None:
                gaps.append(left)
                if len(self.to_read) == before:
                    self.warn(f"max_pages ({self.max_pages}) leaves no page to carry on where "
                              f"an earlier pull stopped (reaching stored items alone took "
                              f"{head_pages}): raise max_pages")
        if len(gaps) > MAX_GAPS:
            self.warn(f"{len(gaps) - MAX_GAPS} unread stretches of the list were given up: "
                      "raise max_pages or pull more often, then `hub source reset`")
            gaps = gaps[:MAX_GAPS]
        new.gaps = gaps
        if gaps:
            self.warn(f"max_pages ({self.max_pages}) reached before stored items: "
                      f"{len(gaps)} stretch(es) of the list not read yet, older items may "
                      "be missing until the next pulls carry on from there")
        dates = [e.when for e in self.to_read if e.when is not None and not e.pinned]
        if dates:
            top = max(dates).isoformat()
            new.newest = max(top, new.newest) if new.newest else top
        return self.to_read, new

    async def _part(self, ref: str, boundary: list[str] | None, until: str | None,
                    min_pages: int) -> Gap | None:
        """Walk from ``ref``; None when it joined stored items (or reached the floor or
        the end of the list), else the gap it leaves."""
        floor = datetime.fromisoformat(until) if until else None
        marks = set(boundary or ())
        seeking = bool(marks)
        settled_run = settled_pages = older_run = unknown_run = pages = 0
        last_ref, last_ids = ref, list(boundary or ())
        self._reached_end = False
        current: str | None = ref
        visited: set[str] = set()
        previous: list[str] | None = None
        while current is not None:
            if self.budget <= 0:
                return Gap(last_ref, last_ids[-BOUNDARY:], until)
            entries, next_ref = await self.read_page(current)
            self.budget -= 1
            pages += 1
            visited.add(current)
            ids = [e.external_id for e in entries]
            if ids and ids == previous:
                break  # the list served its last page again for a page past its end
            previous = ids
            stamps = await self.known.stamps(e.external_id for e in entries)
            whole_page_settled, counted = True, 0
            for entry in entries:
                if entry.external_id in self.seen:
                    seeking = seeking and entry.external_id not in marks
                    continue  # repeated across pages while the list moved
                self.seen.add(entry.external_id)
                stored = entry.external_id in stamps
                # an item stored before it had a stamp is taken as unchanged: reading
                # every stored thread again to learn its stamp would re-read the board
                was = stamps.get(entry.external_id)
                changed = stored and entry.stamp is not None and was is not None \
                    and was != entry.stamp
                if not stored or changed:
                    self.to_read.append(entry)
                if entry.pinned:
                    continue  # pinned notices never stop a walk nor break a run
                last_ids.append(entry.external_id)
                if seeking:
                    # back at a gap: skip what the last pull read, down to where it
                    # stopped (or, if those entries were deleted, to a run of unread ones)
                    unknown_run = 0 if stored else unknown_run + 1
                    seeking = entry.external_id not in marks and unknown_run < self.stop_after
                    continue
                counted += 1
                if stored and not changed:
                    settled_run += 1
                else:
                    settled_run, whole_page_settled = 0, False
                if floor is not None and entry.when is not None:
                    older_run = older_run + 1 if entry.when < floor else 0
            last_ref = current
            settled_pages = settled_pages + 1 if counted and whole_page_settled else 0
            if floor is not None:
                if older_run >= self.stop_after:
                    return None
            elif not seeking and pages >= min_pages and (
                    settled_run >= self.stop_after
                    or (self.stop_pages and settled_pages >= self.stop_pages)):
                return None
            if next_ref == current:
                next_ref = None  # a last page whose 下一页 links to itself
            elif next_ref is not None and next_ref in visited:
                self.warn(f"the list's next link leads back to a page already read "
                          f"({next_ref}): taken as the end of the list")
                next_ref = None
            current = next_ref
        self._reached_end = True
        return None
