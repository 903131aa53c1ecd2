"""Job leases: renewed while a job runs, taken over after its holder dies, once per
interval across processes, and a stuck lease shows in `hub sources` and `hub jobs`.

Two ``Hub`` objects with different instance names on one database are two
processes as far as the leases can tell; tests/test_jobs_processes.py does the
same with real `hub serve` processes and SIGKILL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.core import Hub
from hub.db import transaction
from hub.jobs import acquire_lease, lease_states, release_lease, run_exclusive, run_once_per_period
from hub.models import JobLease, JobRun, utcnow
from hub.settings import Settings


@pytest.fixture
def pair(settings: Settings) -> Iterator[tuple[Hub, Hub]]:
    """Two processes' hubs with one-second leases."""
    first = Hub.open(settings.with_overrides(instance_name="host-a:1", lease_seconds=1.0))
    second = Hub.open(settings.with_overrides(instance_name="host-b:2", lease_seconds=1.0),
                      prepare=False)
    yield first, second
    second.close()
    first.close()


def _lease(hub: Hub, name: str) -> JobLease:
    with hub.sessions() as s:
        row = s.get(JobLease, name)
        assert row is not None
        return row


def test_an_interval_job_runs_once_per_interval_whoever_asks(pair: tuple[Hub, Hub]) -> None:
    a, b = pair
    t0 = utcnow()
    assert acquire_lease(a, "pull:x", now=t0, every=60)
    release_lease(a, "pull:x")
    # b's timer fires 30 s later, within the same interval: a already ran it
    assert not acquire_lease(b, "pull:x", now=t0 + timedelta(seconds=30), every=60)
    # a timer firing a little early (clock jitter between processes) is the next interval
    assert acquire_lease(b, "pull:x", now=t0 + timedelta(seconds=57), every=60)
    release_lease(b, "pull:x", error="RetryLater: 503 from 13812345678's board")
    row = _lease(a, "pull:x")
    assert row.holder is None and row.every_seconds == 60 and row.takeovers == 0
    assert row.last_error == "RetryLater: 503 from 138****5678's board"  # masked
    # without an interval (a command run by hand) only a running holder stops it
    assert acquire_lease(a, "pull:x", every=None)
    assert not acquire_lease(b, "pull:x")
    release_lease(a, "pull:x")


def test_a_running_job_keeps_its_lease_and_a_dead_holder_loses_it(
        pair: tuple[Hub, Hub]) -> None:
    a, b = pair
    assert acquire_lease(a, "deadline-check")
    time.sleep(2.5)  # 2.5 lease lengths: only renewal keeps it
    assert not acquire_lease(b, "deadline-check")
    assert _lease(a, "deadline-check").until > utcnow()
    a.leases.stop(release=False)  # a dies: nobody renews, nobody releases
    with a.sessions() as s:
        assert lease_states(s)["deadline-check"].state == "running"
    time.sleep(1.3)
    with a.sessions() as s:
        state = lease_states(s)["deadline-check"]
    assert state.state == "expired" and "host-a:1" in (state.stuck or "")
    assert acquire_lease(b, "deadline-check")
    row = _lease(b, "deadline-check")
    assert row.holder == "host-b:2" and row.takeovers == 1
    release_lease(b, "deadline-check")


def test_a_holder_that_stalled_past_its_lease_lets_go(pair: tuple[Hub, Hub]) -> None:
    a, b = pair
    assert acquire_lease(a, "search-index")
    with transaction(a.sessions) as s:  # a froze; its lease ran out; b took it over
        s.execute(update(JobLease).where(JobLease.name == "search-index")
                  .values(until=utcnow() - timedelta(seconds=1)))
    assert acquire_lease(b, "search-index")
    a.leases.renew()  # a wakes up: its renewal finds the lease gone
    assert "search-index" in a.leases.lost and "search-index" not in a.leases.held()
    assert _lease(a, "search-index").holder == "host-b:2"
    release_lease(b, "search-index")


def test_run_exclusive_records_the_run_and_frees_the_lease_on_failure(
        pair: tuple[Hub, Hub]) -> None:
    a, b = pair
    seen = []

    def job() -> int:
        seen.append(acquire_lease(b, "deadline-check"))  # b's timer fires meanwhile
        return 7

    assert run_exclusive(a, "deadline-check", job, every=600) == 7
    assert seen == [False]
    assert run_exclusive(b, "deadline-check", lambda: 8, every=600) is None  # this interval

    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_exclusive(b, "other-job", broken)
    row = _lease(a, "other-job")
    assert row.holder is None and row.last_error == "RuntimeError: boom"
    assert row.finished_at is not None and row.finished_at >= row.started_at


def test_a_periodic_run_whose_process_died_is_taken_over(pair: tuple[Hub, Hub]) -> None:
    a, b = pair
    with transaction(a.sessions) as s:  # a claimed the week's ranking and died
        s.add(JobRun(job="weekly-ranking", period="2026-W47", holder="host-a:1",
                     until=utcnow() - timedelta(seconds=5)))
    assert run_once_per_period(b, "weekly-ranking", "2026-W47", lambda _s: {"ranked": 3}) == \
        {"ranked": 3}
    assert run_once_per_period(a, "weekly-ranking", "2026-W47", lambda _s: {"x": 1}) is None
    with a.sessions() as s:
        run = s.scalars(select(JobRun)).one()
    assert run.holder == "host-b:2" and run.result == {"ranked": 3} and run.finished_at


def test_a_stuck_pull_shows_in_source_health_and_hub_jobs(
        pair: tuple[Hub, Hub], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.health import source_health

    a, _ = pair
    with transaction(a.sessions) as s:  # a process died 10 minutes into a pull of "web"
        s.add(JobLease(name="pull:web", holder="host-z:99", until=utcnow() - timedelta(
            minutes=9), started_at=utcnow() - timedelta(minutes=10), every_seconds=300,
            takeovers=0))
    web = next(h for h in source_health(a) if h["name"] == "web")
    assert web["pull"]["state"] == "expired" and "host-z:99" in web["pull"]["stuck"]
    from hub.cli import main

    for key, value in {"HUB_ENV": "test", "HUB_DATABASE_URL": a.settings.database_url,
                       "HUB_VAR_DIR": str(a.settings.var_dir),
                       "HUB_MODEL_PATH": str(a.settings.model_path)}.items():
        monkeypatch.setenv(key, value)
    assert main(["jobs"]) == 0  # "web" is no longer pulled: its old lease is not a job
    assert '"pull:web"' not in capsys.readouterr().out
    with transaction(a.sessions) as s:  # the deadline check's process died too
        s.add(JobLease(name="deadline-check", holder="host-z:99", until=utcnow() - timedelta(
            minutes=1), started_at=utcnow() - timedelta(minutes=3), every_seconds=600,
            takeovers=0))
    assert main(["jobs"]) == 1  # something is stuck: a monitoring script can tell
    jobs = json.loads(capsys.readouterr().out)["interval_jobs"]
    assert [(j["name"], j["state"]) for j in jobs] == [("deadline-check", "expired")]
    assert "host-z:99" in jobs[0]["stuck"]
