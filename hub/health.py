"""Readiness with reasons, and the deployment-wide figures /metrics reads.

/healthz says the process lives (its event loop answers); /readyz says whether it
can do its work, check by check, each with a reason when it fails:

- ``database``: reachable; ``writable``: a write succeeds (then is rolled back), so
  a read-only database (a failover to a replica, a disk remounted read-only) is
  caught; ``migrations``: the schema is at this code's head revision.
- ``scheduler`` (a process running the scheduler): its scheduler ticks.
- ``pipeline`` (a process running the pipeline): its worker task is alive.
- ``queue``: the oldest waiting appeal is younger than ten minutes (critical where
  this process runs a pipeline, since then it should be draining it).
- ``jobs``: no job lease is stuck and no interval job is late, deployment-wide.

A failing *critical* check answers 503: take this process out of rotation. A failing
other check answers 200 with status "degraded": the process serves, someone should
look (the reasons say where).
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, insert, select, text

from hub.core import Hub
from hub.db import MIGRATIONS_DIR, transaction
from hub.jobs import lease_states
from hub.lifecycle.states import OPEN_WORK
from hub.models import Appeal, Case, JobLease, QuarantinedItem, Unit, utcnow
from hub.outage import OUTAGES, classify
from hub.scheduler import interval_jobs

QUEUE_STUCK_AFTER = timedelta(minutes=10)
SCHEDULER_TICK_SECONDS = 10.0


@functools.cache
def migration_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions())


class SchedulerBeat:
    """Set by a scheduler job every SCHEDULER_TICK_SECONDS: the scheduler is alive."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    def tick(self) -> None:
        self.at = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.at


def queue_state(hub: Hub) -> tuple[int, float]:
    """(appeals waiting for the pipeline, age in seconds of the oldest of them)."""
    now = utcnow()
    with hub.sessions() as s:
        queued = s.scalar(select(func.count()).select_from(Appeal)
                          .where(Appeal.state == "queued")) or 0
        lapsed = s.scalar(select(func.count()).select_from(Appeal).where(
            Appeal.state == "processing", Appeal.lease_until < now)) or 0
        oldest = [t for t in (
            s.scalar(select(Appeal.created_at).where(Appeal.state == "queued")
                     .order_by(Appeal.id).limit(1)),
            s.scalar(select(Appeal.created_at).where(Appeal.state == "processing",
                                                     Appeal.lease_until < now)
                     .order_by(Appeal.id).limit(1))) if t is not None]
    age = (now - min(oldest)).total_seconds() if oldest else 0.0
    return queued + lapsed, max(age, 0.0)


def database_readings(hub: Hub) -> dict[str, Any]:
    """What /metrics reports from the database (the same in every process)."""
    depth, age = queue_state(hub)
    with hub.sessions() as s:
        overdue = dict(s.execute(
            select(Unit.code, func.count()).select_from(Case).join(Unit, Unit.id == Case.unit_id)
            .where(Case.state.in_(OPEN_WORK), Case.due_state == "overdue")
            .group_by(Unit.code)).all())
        quarantined = s.scalar(select(func.count()).select_from(QuarantinedItem)
                               .where(QuarantinedItem.replayed_at.is_(None))) or 0
        leases = {name: st.as_dict()
                  for name, st in lease_states(s, only=interval_jobs(hub)).items()}
    return {"queue_depth": depth, "queue_oldest_age": age, "overdue": overdue,
            "quarantined": quarantined, "leases": leases}


class _Rollback(Exception):
    pass


def _failure(exc: BaseException) -> dict[str, Any]:
    outage = classify(exc)
    if outage is not None:
        return {"ok": False, "code": outage.code, "reason": outage.message}
    return {"ok": False, "code": "error", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"}


def database_checks(hub: Hub) -> dict[str, dict[str, Any]]:
    """database, migrations, writable, queue, jobs: each ok or with a reason."""
    out: dict[str, dict[str, Any]] = {}
    try:
        with hub.engine.connect() as conn:
            current = sorted(r[0] for r in conn.execute(text(
                "SELECT version_num FROM alembic_version")))
        out["database"] = {"ok": True, "dialect": hub.engine.dialect.name}
    except Exception as exc:
        out["database"] = _failure(exc)
        return out
    head = migration_head()
    newer = [rev for rev in current if rev not in known_revisions()]
    out["migrations"] = {"ok": current == [head] or bool(newer), "current": current,
                         "head": head}
    if newer:  # a newer release migrated it: this older code runs on (rolling upgrade)
        out["migrations"]["note"] = (f"the database is at {', '.join(newer)}, newer than this "
                                     f"code ({head}): finish the upgrade or the rollback")
    elif current != [head]:
        out["migrations"]["reason"] = (f"the database is at {', '.join(current) or 'nothing'}, "
                                       f"this code needs {head}: run `hub init`")
    try:
        with transaction(hub.sessions) as s:
            s.execute(insert(JobLease).values(name=f"readyz:{hub.settings.instance_name}"[:80],
                                              takeovers=0))
            raise _Rollback
    except _Rollback:
        out["writable"] = {"ok": True}
    except Exception as exc:
        out["writable"] = _failure(exc)
    try:
        depth, age = queue_state(hub)
        out["queue"] = {"ok": age < QUEUE_STUCK_AFTER.total_seconds(), "depth": depth,
                        "oldest_age_seconds": round(age)}
        if not out["queue"]["ok"]:
            out["queue"]["reason"] = (f"the oldest of {depth} waiting appeals has waited "
                                      f"{int(age // 60)} min: is any pipeline running?")
        with hub.sessions() as s:
            stuck = {n: st.stuck for n, st in lease_states(s, only=interval_jobs(hub)).items()
                     if st.stuck}
        out["jobs"] = {"ok": not stuck}
        if stuck:
            out["jobs"]["reason"] = "; ".join(f"{n}: {why}" for n, why in sorted(stuck.items()))
    except Exception as exc:
        out["queue"] = _failure(exc)
    if all(c["ok"] for c in out.values()):
        OUTAGES.recovered()
    return out


async def readiness(app: web.Application) -> tuple[int, dict[str, Any]]:
    hub: Hub = app["hub"]
    checks = await hub.run(database_checks, hub)
    critical = {"database", "migrations", "writable"}
    beat: SchedulerBeat | None = app.get("scheduler_beat")
    if hub.settings.scheduler_enabled and beat is not None:
        age = beat.age()
        checks["scheduler"] = {"ok": age < 3 * SCHEDULER_TICK_SECONDS,
                               "last_tick_seconds_ago": round(age, 1)}
        if not checks["scheduler"]["ok"]:
            checks["scheduler"]["reason"] = f"this process's scheduler last ticked {age:.0f} s ago"
        critical.add("scheduler")
    task: asyncio.Task[None] | None = app.get("pipeline_task")
    if hub.settings.pipeline_enabled and task is not None:
        checks["pipeline"] = {"ok": not task.done()}
        if task.done():
            checks["pipeline"]["reason"] = "this process's pipeline worker has stopped"
        critical.update(("pipeline", "queue"))
    for name, check in checks.items():
        check["critical"] = name in critical
    failed = [n for n, c in checks.items() if not c["ok"]]
    if any(checks[n]["critical"] for n in failed):
        return 503, {"status": "not_ready", "failed": failed, "checks": checks}
    return 200, {"status": "degraded" if failed else "ready", "failed": failed,
                 "checks": checks}
