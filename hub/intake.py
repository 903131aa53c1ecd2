"""Group commit for intake: concurrent requests share one transaction.

Each request is answered only after the transaction holding its items committed,
so an acknowledged appeal is durable; sharing the commit lets a 2-core machine
take thousands of single POSTs a second on SQLite's single writer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import AppealIn
from hub.queue import Enqueued, enqueue

log = logging.getLogger(__name__)


@dataclass
class _Request:
    source_id: int
    items: list[AppealIn]
    future: asyncio.Future[list[Enqueued]]


class IntakeWriter:
    def __init__(self, hub: Hub, max_items: int = 1000) -> None:
        self.hub = hub
        self.max_items = max_items
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
                batch, count = [], 0
                while self._pending and (count < self.max_items or not batch):
                    req = self._pending.pop(0)
                    batch.append(req)
                    count += len(req.items)
                await self._commit(batch)

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            results = await self.hub.run(self._write, batch)
        except Exception as exc:  # the database refused: every request in it fails
            log.exception("intake transaction failed for %d requests", len(batch))
            for req in batch:
                if not req.future.done():
                    req.future.set_exception(exc)
            return
        for req, res in zip(batch, results, strict=True):
            if not req.future.done():
                req.future.set_result(res)

    def _write(self, batch: list[_Request]) -> list[list[Enqueued]]:
        """One INSERT per source for the whole batch; results split back per request
        (a repeat of an item, even from another request, answers with the first's id)."""
        by_source: dict[int, list[_Request]] = {}
        for req in batch:
            by_source.setdefault(req.source_id, []).append(req)
        results: dict[int, list[Enqueued]] = {}
        with transaction(self.hub.sessions) as session:
            for source_id, reqs in by_source.items():
                flat = enqueue(session, source_id, [i for r in reqs for i in r.items])
                start = 0
                for r in reqs:
                    results[id(r)] = flat[start:start + len(r.items)]
                    start += len(r.items)
        return [results[id(r)] for r in batch]
