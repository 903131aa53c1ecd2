"""Group commit for intake: concurrent requests share one transaction.

Each request is answered only after the transaction holding its items committed,
so an acknowledged appeal is durable; sharing the commit lets a 2-core machine
take thousands of single POSTs a second on SQLite's single writer.

SQLite has one writer, so one transaction is in flight at a time. PostgreSQL's
commit waits for the WAL flush; with one transaction at a time every request also
waits for the flush before its own, so the tail follows the disk. There up to
``concurrency`` transactions run at once (each its own batch): requests that arrive
during a flush go into the next transaction instead of queueing behind it.
Two transactions writing the same (source, external id) are safe: the second waits
for the first and then finds the existing row.

One request must never fail the others sharing its transaction. Items are checked
as storable before they are batched (hub/intake_schema.py); should a batch's
transaction fail anyway for a reason in the data, its requests are written again
one by one, so only the guilty one gets an error (``Unstorable``). When the database
itself is unavailable every request fails as before: retrying each would only
multiply the failures.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.exc import DataError, IntegrityError

from hub.core import Hub
from hub.db import is_postgres, transaction
from hub.intake_schema import AppealIn
from hub.outage import OUTAGES, classify, report
from hub.queue import Enqueued, enqueue

log = logging.getLogger(__name__)


class Unstorable(ValueError):
    """The database refused this request's items, alone in their own transaction."""


# what a request's own content can make the database refuse (a lone surrogate that
# cannot be encoded, a value too long or malformed for its column)
DATA_FAULTS = (UnicodeError, DataError, IntegrityError)


def _data_fault(exc: BaseException) -> bool:
    """Is ``exc`` (or what it wraps) the database refusing the data itself?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DATA_FAULTS):
            return True
        seen.add(id(current))
        current = getattr(current, "orig", None) or current.__cause__
    return False


@dataclass
class _Request:
    source_id: int
    items: list[AppealIn]
    future: asyncio.Future[list[Enqueued]]


class IntakeWriter:
    def __init__(self, hub: Hub, max_items: int = 1000, concurrency: int | None = None) -> None:
        self.hub = hub
        self.max_items = max_items
        if concurrency is None:
            concurrency = 3 if is_postgres(hub.engine) else 1
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._pending: list[_Request] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="intake-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._in_flight:  # let started transactions finish and answer
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        for req in self._pending:
            if not req.future.done():
                req.future.set_exception(RuntimeError("hub is shutting down"))

    async def submit(self, source_id: int, items: list[AppealIn]) -> list[Enqueued]:
        future: asyncio.Future[list[Enqueued]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(source_id, items, future))
        self._wake.set()
        return await future

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._slots.acquire()  # requests keep gathering meanwhile
                batch, count = [], 0
                while self._pending and (count < self.max_items or not batch):
                    req = self._pending.pop(0)
                    batch.append(req)
                    count += len(req.items)
                task = asyncio.create_task(self._commit(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            results = await self.hub.run(self._write, batch)
        except Exception as exc:
            if classify(exc) is not None:  # the database is away: every request fails
                # (logged once per burst; the middleware answers each with 503)
                report(exc, f"intake transaction of {len(batch)} requests", log)
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(exc)
            elif len(batch) == 1:
                if _data_fault(exc):
                    self._refused(batch[0], exc)
                else:  # not the request's fault: a bug, logged with its traceback
                    report(exc, "intake transaction of 1 request", log)
                    if not batch[0].future.done():
                        batch[0].future.set_exception(exc)
            else:  # something in the data: write the requests one by one so only the
                # guilty one fails, never its neighbours in the group commit
                log.warning("intake transaction of %d requests failed (%s); writing them "
                            "one by one", len(batch), type(exc).__name__)
                await asyncio.gather(*(self._commit([req]) for req in batch))
            return
        OUTAGES.recovered()
        for req, res in zip(batch, results, strict=True):
            if not req.future.done():
                req.future.set_result(res)

    @staticmethod
    def _refused(req: _Request, exc: Exception) -> None:
        """One request's items cannot be stored: it alone gets the error."""
        log.warning("intake refused a request of %d items: %s", len(req.items),
                    type(exc).__name__)
        if not req.future.done():
            req.future.set_exception(Unstorable(
                "the database refused this request's content "
                f"({type(exc).__name__}); check its text for invalid characters"))

    def _write(self, batch: list[_Request]) -> list[list[Enqueued]]:
        """One INSERT per source for the whole batch; results split back per request
        (a repeat of an item, even from another request, answers with the first's id)."""
        by_source: dict[int, list[_Request]] = {}
        for req in batch:
            by_source.setdefault(req.source_id, []).append(req)
        results: dict[int, list[Enqueued]] = {}
        with transaction(self.hub.sessions, client=True) as session:
            for source_id, reqs in sorted(by_source.items()):  # one lock order for all
                flat = enqueue(session, source_id, [i for r in reqs for i in r.items])
                start = 0
                for r in reqs:
                    results[id(r)] = flat[start:start + len(r.items)]
                    start += len(r.items)
        return [results[id(r)] for r in batch]
