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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from classifiers.text import compose
from hub import metrics, search
from hub.core import Hub
from hub.db import transaction
from hub.dedupe import find_originals, fingerprint
from hub.lifecycle.service import CaseService, RouteDecision
from hub.models import Appeal, Case, CaseEvent
from hub.outage import OUTAGES, report
from hub.queue import claim, finish

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


class Pipeline:
    def __init__(self, hub: Hub, router: Router, batch_size: int = 200,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.hub = hub
        self.router = router
        self.batch_size = batch_size
        self.lease = lease
        self.worker = f"{hub.settings.instance_name}:{uuid.uuid4().hex[:8]}"
        self.cases = CaseService(hub.config, hub.unit_ids)

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
        decisions = self.router.route_many([compose(a.title, a.body) for a in snapshot])
        prints = {a.id: fingerprint(a.id, a.received_at, a.title, a.body) for a in snapshot}
        with transaction(self.hub.sessions) as s:
            held = set(finish(s, self.worker, [a.id for a in snapshot]))
            held_ids = sorted(held)
            search.enqueue(s, held_ids)
            originals = find_originals(s, [prints[i] for i in held_ids])
            batch = [(a, d) for a, d in zip(snapshot, decisions, strict=True) if a.id in held]
            case_ids = self.cases.open_cases(s, batch)
            for (appeal, _), case_id in zip(batch, case_ids, strict=True):
                if appeal.id in originals:
                    case = s.get(Case, case_id)
                    assert case is not None
                    self._link_duplicate(s, appeal.id, case, *originals[appeal.id])
            opened = len(case_ids)
        return BatchResult(len(snapshot), opened)

    def _link_duplicate(self, s: Session, appeal_id: int, case: Case, original_id: int,
                        score: float) -> None:
        """Point the appeal at its original and merge its case into the original's."""
        s.execute(update(Appeal).where(Appeal.id == appeal_id)
                  .values(duplicate_of_id=original_id))
        target = s.scalar(select(Case).where(Case.appeal_id == original_id))
        for _ in range(10):  # follow a chain of merges to the surviving case
            if target is None or target.state != "merged" or target.merged_into_id is None:
                break
            target = s.get(Case, target.merged_into_id)
        if target is None or target.state in ("merged", "closed") or target.id == case.id:
            s.add(CaseEvent(case_id=case.id, actor="dedupe", action="duplicate",
                            from_state=case.state, to_state=case.state,
                            note=f"与诉求 #{original_id} 重复 (相似度 {score:.2f})，原工单已办结"))
            return
        self.cases.merge(s, case.id, target.id, "dedupe")
        s.add(CaseEvent(case_id=case.id, actor="dedupe", action="duplicate",
                        from_state="merged", to_state="merged",
                        note=f"跨渠道重复 (相似度 {score:.2f})，并入 {target.number}"))

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
