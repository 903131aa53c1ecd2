"""Two real `hub serve` processes on one database: interval jobs run once per interval
across both (not once per process), and when the process running a pull is killed
with SIGKILL mid-pull, the other takes the pull over within two intervals."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import create_engine, text

from benchmarks.util import free_port, stop
from classifiers.train import SEED_CORPUS
from hub.models import utcnow
from hub.settings import REPO_ROOT, Settings
from hub.simulate import Channels, load_messages
from tests.conftest import on_postgres

pytestmark = pytest.mark.slow
INTERVAL = 3  # seconds between pulls of the test feed
LEASE = 2  # HUB_LEASE_SECONDS: renewed every 2/3 s while a job runs


def _config(tmp_path: Path, base: str) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    with (config / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "feed"\nkind = "rss"\ntitle = "政民互动RSS"\n'
                 f'url = "{base}/rss.xml"\ninterval_seconds = {INTERVAL}\n'
                 "min_interval_seconds = 0\nretries = 0\ntimeout_seconds = 60\n")
    return config


def _start(settings: Settings, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": settings.database_url,
           "HUB_VAR_DIR": str(settings.var_dir), "HUB_MODEL_PATH": str(settings.model_path),
           "HUB_CONFIG_DIR": str(config), "HUB_SCHEDULER": "1", "HUB_PIPELINE": "0",
           "HUB_LEASE_SECONDS": str(LEASE)}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


async def _wait_ready(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"hub on {port} did not start")


async def _job_runs(ports: list[int], job: str) -> float:
    """hub_job_runs_total{job=...} summed over both processes' /metrics."""
    total = 0.0
    async with aiohttp.ClientSession() as http:
        for port in ports:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                assert r.status == 200
                for line in (await r.text()).splitlines():
                    if line.startswith("hub_job_runs_total{") and f'job="{job}"' in line:
                        total += float(line.rsplit(" ", 1)[1])
    return total


def _lease(url: str, name: str) -> dict[str, Any] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT holder, started_at, finished_at, takeovers "
                                    "FROM joblease WHERE name = :n"), {"n": name}).first()
    finally:
        engine.dispose()
    return dict(row._mapping) if row else None


def _aware(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def test_interval_jobs_run_once_across_processes_and_survive_a_killed_holder(
        settings: Settings, tmp_path: Path, aiohttp_server: Any) -> None:
    sim = Channels(load_messages(SEED_CORPUS, limit=20))
    requests: list[float] = []
    stall = {"next": False}

    async def rss(request: web.Request) -> web.Response:
        requests.append(time.monotonic())
        if stall["next"]:  # this pull hangs until its process is killed
            stall["next"] = False
            await asyncio.sleep(60)
        return await Channels.rss(sim, request)

    sim.rss = rss  # type: ignore[method-assign]
    server = await aiohttp_server(sim.app(), port=free_port())
    config = _config(tmp_path, str(server.make_url("")).rstrip("/"))
    ports = [free_port(), free_port()]
    procs = [_start(settings, config, port, tmp_path / f"hub-{port}.log") for port in ports]
    try:
        await asyncio.gather(*[_wait_ready(p) for p in ports])
        await asyncio.sleep(2 * INTERVAL)  # both schedulers are running now

        # once per interval: ~15/3 pulls of the feed (a lower bound loose for a busy
        # machine), where one pull per process per interval would be twice that
        searches = await _job_runs(ports, "search-index")
        first, started = len(requests), time.monotonic()
        await asyncio.sleep(15)
        elapsed = time.monotonic() - started
        pulls = len(requests) - first
        searches = await _job_runs(ports, "search-index") - searches
        assert 2 <= pulls <= elapsed / INTERVAL + 1, (pulls, elapsed)
        assert 1 <= searches <= elapsed / 5 + 1, searches  # every 5 s, once

        # kill the process holding the pull lease while its pull hangs
        stall["next"] = True
        deadline = time.monotonic() + 5 * INTERVAL
        lease = None
        while time.monotonic() < deadline:
            lease = _lease(settings.database_url, "pull:feed")
            if not stall["next"] and lease and lease["holder"]:
                break
            await asyncio.sleep(0.1)
        assert lease and lease["holder"], "no pull started"
        pid = int(lease["holder"].rsplit(":", 1)[1])
        victim = next(p for p in procs if p.pid == pid)
        os.kill(pid, signal.SIGKILL)
        victim.wait()
        killed_at = utcnow()
        deadline = time.monotonic() + 6 * INTERVAL
        while time.monotonic() < deadline:
            lease = _lease(settings.database_url, "pull:feed")
            assert lease is not None
            if lease["holder"] != victim_holder(pid) and _aware(lease["started_at"]) > killed_at \
                    and lease["finished_at"] is not None \
                    and _aware(lease["finished_at"]) > _aware(lease["started_at"]):
                break
            await asyncio.sleep(0.1)
        assert lease is not None
        restarted = _aware(lease["started_at"])
        assert restarted > killed_at, "the killed process's pull was never taken over"
        assert (restarted - killed_at).total_seconds() <= 2 * INTERVAL
        assert lease["takeovers"] >= 1
        assert lease["finished_at"] is not None  # and the survivor's pull completed
    finally:
        stop(procs)
        for log in tmp_path.glob("hub-*.log"):
            print(log.name, log.read_text(errors="replace")[-3000:])


def victim_holder(pid: int) -> str:
    return f"{os.uname().nodename}:{pid}"


def test_processes_starting_together_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    """A web process and a worker started at once (as deploy/ does) on a fresh SQLite
    file: one migrates, the others wait for it instead of dying on "database is
    locked". PostgreSQL has its advisory lock for the same."""
    if on_postgres():
        pytest.skip("SQLite start-up (PostgreSQL serialises on an advisory lock)")
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
           "HUB_VAR_DIR": str(tmp_path), "HUB_ENV": "test"}
    runs = [subprocess.Popen([sys.executable, "-m", "hub.cli", "init"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)]
    outputs = [run.communicate(timeout=240)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert not any("locked" in out for out in outputs)
