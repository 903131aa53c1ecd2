"""The pipeline worker: claim queued appeals, route them, open their cases.

Claiming and finishing are two short transactions; routing (jieba + sklearn) runs
between them outside any transaction. A crash leaves the appeals leased; when the
lease runs out another worker takes them, and ``finish`` makes sure only the
current holder opens a case.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from classifiers.decision import RouteDecision
from classifiers.text import compose
from hub import metrics, search
from hub.core import Hub
from hub.db import transaction
from hub.dedupe import apply_plan, fingerprint, plan_clusters
from hub.lifecycle.service import CaseService
from hub.outage import OUTAGES, report
from hub.queue import claim, finish
from hub.surge import SurgeDesk

log = logging.getLogger(__name__)


class Router(Protocol):
    def route_many(self, texts: list[str]) -> list[RouteDecision]: ...


class ManualTriage:
    """Used when no model is trained yet: every case goes to the dispatchers."""

    def route_many(self, texts: list[str]) -> list[RouteDecision]:
        return [RouteDecision(None, None, None, 0.0, True, []) for _ in texts]


@dataclass(frozen=True)
class _Claimed:
    """What the pipeline needs of a claimed appeal, read inside the claim transaction."""

    id: int
    title: str
    body: str
    received_at: datetime
    raw: Any


@dataclass
class BatchResult:
    claimed: int
    opened: int
    linked: int = 0  # cases linked to the case carrying their matter
    comparisons: int = 0  # text similarities computed by dedupe


class Pipeline:
    def __init__(self, hub: Hub, router: Router, batch_size: int = 200,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.hub = hub
        self.router = router
        self.batch_size = batch_size
        self.lease = lease
        self.worker = f"{hub.settings.instance_name}:{uuid.uuid4().hex[:8]}"
        self.cases = CaseService(hub.config, hub.unit_ids)
        self.surges = SurgeDesk(hub.config)

    def run_once(self) -> BatchResult:
        """One batch, synchronously (the CLI, tests and benchmarks call this)."""
        if getattr(self.router, "is_stale", lambda: False)():
            from classifiers.router import load_router

            log.info("the routing model changed on disk; reloading it")
            self.router = load_router(self.hub)
        with transaction(self.hub.sessions) as s:
            appeals = claim(s, self.worker, self.batch_size, self.lease)
            snapshot = [_Claimed(a.id, a.title, a.body, a.received_at, a.raw) for a in appeals]
        if not snapshot:
            return BatchResult(0, 0)
        self._refresh_catalogue()
        decisions = self.router.route_many([compose(a.title, a.body) for a in snapshot])
        # a whistleblower's report is never clustered: linked to a carrier case it would
        # follow (and be noted on) a case the accused unit may handle (hub/whistleblower.py)
        prints = {a.id: fingerprint(a.id, a.received_at, a.title, a.body)
                  for a, d in zip(snapshot, decisions, strict=True) if not d.hide_identity}
        clusterable = [a for a in snapshot if a.id in prints]
        with self.hub.sessions() as s:  # reads only: no write lock while comparing texts
            plan = plan_clusters(s, list(prints.values()), self.surges.pinned(s, clusterable))
        with transaction(self.hub.sessions) as s:
            held = set(finish(s, self.worker, [a.id for a in snapshot]))
            held_ids = sorted(held)
            search.enqueue(s, held_ids)
            batch = [(a, d) for a, d in zip(snapshot, decisions, strict=True) if a.id in held]
            if held & prints.keys() != plan.appeal_ids:  # a lease ran out meanwhile
                plan = plan_clusters(s, [prints[i] for i in held_ids if i in prints],
                                     self.surges.pinned(s, [a for a, _ in batch
                                                            if a.id in prints]))
            clusters = apply_plan(s, plan)
            case_ids = self.cases.open_cases(s, batch)
            settled = self.surges.settle(
                s, {a.id: c for (a, _), c in zip(batch, case_ids, strict=True)}, clusters)
        return BatchResult(len(snapshot), len(case_ids), settled.linked, clusters.comparisons)

    def _refresh_catalogue(self) -> None:
        """Give the router the dispatch catalogue when it changed (one small read per
        batch): an admin's edit applies to the next batch, a dated one on its day."""
        if not hasattr(self.router, "use_catalogue"):
            return  # ManualTriage: nothing to dispatch by
        from hub.catalogue import store

        with self.hub.sessions() as s:
            store.refresh(self.router, s)

    def drain(self) -> int:
        """Process until the queue is empty; returns how many cases were opened."""
        total = 0
        while True:
            result = self.run_once()
            total += result.opened
            if result.claimed == 0:
                return total

    async def run_forever(self, idle_seconds: float = 0.5) -> None:
        while True:
            started = time.perf_counter()
            try:
                result = await self.hub.run(self.run_once)
            except Exception as exc:  # an outage is logged once per burst, a bug each time
                report(exc, "pipeline batch", log)
                await asyncio.sleep(5)
                continue
            OUTAGES.recovered()
            if result.claimed:
                metrics.PIPELINE_APPEALS.inc(result.claimed)
                metrics.PIPELINE_CASES.inc(result.opened)
                metrics.PIPELINE_SECONDS.observe(time.perf_counter() - started)
            if result.claimed == 0:
                await asyncio.sleep(idle_seconds)
