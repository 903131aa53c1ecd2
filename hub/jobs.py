"""Leases and job runs: which process runs a scheduled job, and that it runs once.

Every process of a hub may run the scheduler; the database decides who works:

- An **interval job** (pulls, the deadline check, search indexing) takes the lease
  row named after it. The holder's ``LeaseKeeper`` thread renews the lease every
  third of its time to live while the job runs, so a long job keeps it and a dead
  process loses it within ``HUB_LEASE_SECONDS``; the next process whose timer fires
  takes it over (counted in ``takeovers``). The row also records when the job last
  started: a process whose timer fires within the same interval (``every``) skips,
  so a job runs once per interval, not once per process.
- A **periodic job** (weekly ranking, router retrain) claims a unique (job, period)
  row; its ``until`` is renewed the same way, so a run whose process died is taken
  over instead of blocking the period forever.

Jobs must be idempotent: a holder that stalls longer than its lease (a frozen VM)
may find its job taken over, and both runs then finish. That costs a repeat, never
a loss. This module sits low (database and models only): the scheduler, the pull
schedule and the ranking service import it, never the other way round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub import metrics
from hub.db import insert_ignoring_conflicts, transaction
from hub.models import JobLease, JobRun, utcnow
from hub.privacy import mask_text

if TYPE_CHECKING:
    from hub.core import Hub

log = logging.getLogger(__name__)
#: a timer firing this much early (clock jitter between processes) still counts as
#: the next interval
INTERVAL_SLACK = 0.9
STUCK_FACTOR = 3  # an idle interval job that has not started for 3 intervals is late


class LeaseKeeper:
    """One thread per process renewing the leases and job runs this process holds."""

    def __init__(self, sessions: sessionmaker[Session], holder: str, ttl: float) -> None:
        self.sessions, self.holder, self.ttl = sessions, holder, ttl
        self._leases: dict[str, float] = {}  # name -> seconds to live
        self._runs: dict[int, float] = {}  # job run id -> seconds to live
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: set[str] = set()
        self._failing = False

    def hold(self, name: str, ttl: float) -> None:
        with self._lock:
            self._leases[name] = ttl
            self.lost.discard(name)
        self._start()

    def drop(self, name: str) -> None:
        with self._lock:
            self._leases.pop(name, None)

    def hold_run(self, run_id: int, ttl: float) -> None:
        with self._lock:
            self._runs[run_id] = ttl
        self._start()

    def drop_run(self, run_id: int) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._leases)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._loop, name="hub-lease-keeper",
                                                daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(max(0.2, self.beat())):
            try:
                self.renew()
                if self._failing:
                    log.warning("lease renewal works again")
                self._failing = False
            except Exception as exc:  # the database is away: say so once, keep trying
                if not self._failing:
                    log.warning("cannot renew job leases (%s); retrying every %.0f s",
                                type(exc).__name__, self.beat())
                self._failing = True

    def beat(self) -> float:
        with self._lock:
            ttls = [*self._leases.values(), *self._runs.values()]
        return min([self.ttl, *ttls]) / 3

    def renew(self) -> None:
        """Push every held lease's end forward; a lease someone else took is let go."""
        with self._lock:
            leases, runs = dict(self._leases), dict(self._runs)
        if not leases and not runs:
            return
        now = utcnow()
        lost = []
        with transaction(self.sessions) as s:
            for name, ttl in leases.items():
                kept = s.execute(update(JobLease).where(
                    JobLease.name == name, JobLease.holder == self.holder)
                    .values(until=now + timedelta(seconds=ttl)).returning(JobLease.name)).first()
                if kept is None:
                    lost.append(name)
            for run_id, ttl in runs.items():
                s.execute(update(JobRun).where(JobRun.id == run_id, JobRun.holder == self.holder)
                          .values(until=now + timedelta(seconds=ttl)))
        for name in lost:
            log.warning("lease %s was taken over by another process while this one held it",
                        name)
            metrics.LEASES_LOST.labels(name).inc()
            with self._lock:
                self._leases.pop(name, None)
                self.lost.add(name)

    def stop(self, release: bool = True) -> None:
        """Stop renewing; on a clean shutdown the leases still held are freed at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release:
            for name in self.held():
                try:
                    _release(self.sessions, self.holder, name, "stopped: process shut down")
                except Exception:  # the database is away; the lease expires by itself
                    log.warning("could not release lease %s at shutdown", name)


def _ttl(hub: Hub, ttl: timedelta | None) -> float:
    return ttl.total_seconds() if ttl is not None else hub.settings.lease_seconds


def acquire_lease(hub: Hub, name: str, ttl: timedelta | None = None,
                  now: datetime | None = None, every: float | None = None) -> bool:
    """Take the named lease if nobody holds it (or its holder stopped renewing it) and,
    for an interval job (``every`` seconds), if it did not start within this interval.

    True when this process now holds it; the keeper renews it until released."""
    now = now or utcnow()
    holder = hub.settings.instance_name
    seconds = _ttl(hub, ttl)
    with transaction(hub.sessions) as s:
        insert_ignoring_conflicts(s, JobLease.__table__, [{"name": name, "takeovers": 0}],
                                  ["name"], [JobLease.__table__.c.name])
        row = s.scalars(select(JobLease).where(JobLease.name == name).with_for_update()).one()
        mine = row.holder == holder
        if row.holder is not None and not mine and row.until is not None and row.until >= now:
            return False  # running elsewhere
        if every and not mine and row.started_at is not None \
                and row.started_at > now - timedelta(seconds=every * INTERVAL_SLACK):
            return False  # another process ran it within this interval
        if row.holder is not None and not mine:
            row.takeovers += 1
            log.warning("job %s: lease of %s ran out at %s without being renewed (the "
                        "process died or hung); taken over", name, row.holder,
                        row.until.isoformat() if row.until else "?")
            metrics.LEASE_TAKEOVERS.labels(name).inc()
        row.holder, row.until, row.started_at = holder, now + timedelta(seconds=seconds), now
        if every:
            row.every_seconds = int(every)
    hub.leases.hold(name, seconds)
    return True


def _release(sessions: sessionmaker[Session], holder: str, name: str,
             error: str | None) -> None:
    with transaction(sessions) as s:
        s.execute(update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                  .values(until=None, holder=None, finished_at=utcnow(),
                          last_error=mask_text(error)[:300] if error else None))


def release_lease(hub: Hub, name: str, error: str | None = None) -> None:
    """Free the lease; the row keeps when the job started and finished, and its error."""
    hub.leases.drop(name)
    _release(hub.sessions, hub.settings.instance_name, name, error)


def run_exclusive(hub: Hub, name: str, fn: Callable[[], Any], every: float | None = None,
                  ttl: timedelta | None = None) -> Any:
    """Run ``fn`` if this process gets the lease (see ``acquire_lease``); None otherwise."""
    if not acquire_lease(hub, name, ttl, every=every):
        log.debug("job %s is running elsewhere or ran this interval; skipped", name)
        return None
    started = time.perf_counter()
    error: str | None = None
    try:
        return fn()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        metrics.job_finished(name, time.perf_counter() - started, error is None)
        release_lease(hub, name, error)


def run_once_per_period(hub: Hub, job: str, period: str,
                        fn: Callable[[Session], dict[str, Any]]) -> dict[str, Any] | None:
    """Claim (job, period) with a unique row; the work and its result commit together.

    A claimed run whose holder stopped renewing it (the process died) is taken over."""
    holder = hub.settings.instance_name
    seconds = hub.settings.lease_seconds
    now = utcnow()
    try:
        with transaction(hub.sessions) as s:
            run = JobRun(job=job, period=period, holder=holder, started_at=now,
                         until=now + timedelta(seconds=seconds))
            s.add(run)
            s.flush()
            run_id = run.id
    except IntegrityError:
        with transaction(hub.sessions) as s:
            run_id = s.scalar(update(JobRun).where(
                JobRun.job == job, JobRun.period == period, JobRun.finished_at.is_(None),
                (JobRun.until.is_(None)) | (JobRun.until < now))
                .values(holder=holder, started_at=now, until=now + timedelta(seconds=seconds))
                .returning(JobRun.id))
        if run_id is None:
            log.info("%s for %s already ran or is running", job, period)
            return None
        log.warning("%s for %s: the process running it stopped; taken over", job, period)
        metrics.LEASE_TAKEOVERS.labels(job).inc()
    assert run_id is not None
    hub.leases.hold_run(run_id, seconds)
    started = time.perf_counter()
    try:
        with transaction(hub.sessions) as s:
            result = fn(s)
            s.execute(update(JobRun).where(JobRun.id == run_id)
                      .values(finished_at=utcnow(), until=None, result=result))
        metrics.job_finished(job, time.perf_counter() - started, True)
        return result
    except Exception:
        metrics.job_finished(job, time.perf_counter() - started, False)
        with transaction(hub.sessions) as s:  # free the period so a later run can retry
            s.query(JobRun).filter(JobRun.id == run_id).delete()
        raise
    finally:
        hub.leases.drop_run(run_id)


@dataclass(frozen=True)
class LeaseState:
    """How an interval job stands, for `hub jobs`, `hub sources`, /readyz and the admin."""

    name: str
    state: str  # running | idle | expired | late
    holder: str | None
    started_at: datetime | None
    finished_at: datetime | None
    every_seconds: int | None
    last_error: str | None
    takeovers: int
    stuck: str | None  # why an operator should look, or None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def lease_state(row: JobLease, now: datetime) -> LeaseState:
    state, stuck = "idle", None
    if row.holder is not None and row.until is not None and row.until >= now:
        state = "running"
        limit = max(3600.0, 20.0 * (row.every_seconds or 0))
        if row.started_at and (now - row.started_at).total_seconds() > limit:
            stuck = f"running for {int((now - row.started_at).total_seconds() // 60)} min " \
                    f"in {row.holder}"
    elif row.holder is not None:
        state = "expired"
        stuck = f"held by {row.holder}, not renewed since " \
                f"{row.until.isoformat(timespec='seconds') if row.until else '?'}: that " \
                "process died or hangs; the next scheduler takes it over"
    elif row.every_seconds and row.started_at and \
            (now - row.started_at).total_seconds() > STUCK_FACTOR * row.every_seconds + 60:
        state = "late"
        stuck = f"last started {int((now - row.started_at).total_seconds() // 60)} min ago, " \
                f"due every {row.every_seconds} s: no running scheduler has picked it up"
    return LeaseState(row.name, state, row.holder, row.started_at, row.finished_at,
                      row.every_seconds, row.last_error, row.takeovers, stuck)


def lease_states(session: Session, now: datetime | None = None,
                 only: set[str] | None = None) -> dict[str, LeaseState]:
    """Every lease's state; ``only`` keeps the jobs still scheduled (a removed source's
    old lease is neither running nor late)."""
    now = now or utcnow()
    return {row.name: lease_state(row, now)
            for row in session.scalars(select(JobLease).order_by(JobLease.name))
            if only is None or row.name in only}
