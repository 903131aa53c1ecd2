"""kill -9 during load: every acknowledged appeal is there after restart, once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from benchmarks.util import free_port, wait_for_port

pytestmark = pytest.mark.slow


def start_server(settings, port: int) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": settings.database_url,
           "HUB_VAR_DIR": str(settings.var_dir), "HUB_MODEL_PATH": str(settings.model_path),
           "HUB_SCHEDULER": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
    except RuntimeError:
        proc.kill()
        raise
    return proc


async def hammer(port: int, acked: set[str], stop_after: float) -> None:
    url = f"http://127.0.0.1:{port}/api/v1/appeals"
    headers = {"X-Api-Key": "dev-hotline-push-key"}
    counter = iter(range(10**9))
    deadline = time.monotonic() + stop_after

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            ext = f"k-{next(counter)}"
            try:
                async with session.post(url, headers=headers, json={
                        "external_id": ext, "body": "A2区某路段下水道堵塞，污水横流，请处理"}) as r:
                    if r.status in (200, 201):
                        acked.add(ext)
            except (TimeoutError, aiohttp.ClientError):
                return  # the server died under us

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*[client(session) for _ in range(20)])


def test_kill_minus_nine_loses_and_duplicates_nothing(settings) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = start_server(settings, port)
    acked: set[str] = set()
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(hammer(port, acked, stop_after=6))
        loop.run_until_complete(asyncio.sleep(1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loop.run_until_complete(task)
    finally:
        loop.close()
    assert len(acked) > 50
    proc = start_server(settings, port)  # restart: recovery must not need anything by hand
    try:
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT external_id, count(*) FROM appeal GROUP BY external_id")).all()
        engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    stored = {ext: n for ext, n in rows}
    assert acked <= set(stored), f"lost {len(acked - set(stored))} acknowledged appeals"
    assert all(n == 1 for n in stored.values())
