"""Run every benchmark and print one table. Targets are printed beside results;
nothing here fails a build: speed is measured, not asserted in tests.

    python -m benchmarks [--seconds 10] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

from benchmarks.util import free_port, peak_rss_mb, wait_for_port

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_database(kind: str, pg_url: str, folder: Path) -> str:
    """A new SQLite file in ``folder`` or a new PostgreSQL database beside ``pg_url``."""
    if kind == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    name = f"hub_bench_{os.getpid()}_{folder.name}"[:63]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


async def single_posts(port: int, seconds: float, clients: int) -> tuple[int, list[float]]:
    url = f"http://127.0.0.1:{port}/api/v1/appeals"
    headers = {"X-Api-Key": "dev-hotline-push-key"}
    latencies: list[float] = []
    counter = iter(range(10**9))
    end = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < end:
            body = {"external_id": f"b-{next(counter)}", "title": "A3区小区路灯不亮",
                    "body": "A3区含浦街道某小区路灯坏了一个月，晚上出行很不安全，请尽快维修。"}
            t0 = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as resp:
                await resp.read()
                if resp.status == 201:
                    latencies.append(time.perf_counter() - t0)

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*[client(session) for _ in range(clients)])
    return len(latencies), latencies


def bench_intake(kind: str, pg_url: str, seconds: float) -> list[tuple[str, str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    url = fresh_database(kind, pg_url, folder)
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": url, "HUB_VAR_DIR": str(folder),
           "HUB_SCHEDULER": "0", "HUB_PIPELINE": "0"}
    subprocess.run([sys.executable, "-m", "hub.cli", "init"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        asyncio.run(single_posts(port, 1.0, 50))  # warm-up
        count, lat = asyncio.run(single_posts(port, seconds, 50))
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat.sort()
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    rows = [
        (f"intake single POST, 50 clients ({kind})", f"{count / seconds:,.0f}/s",
         ">= 1,000/s"),
        (f"intake single POST p50 / p99 ({kind})", f"{p50:.1f} / {p99:.1f} ms", "p99 <= 50 ms"),
        (f"server peak RSS ({kind})", f"{rss:.0f} MiB", ""),
    ]
    rows.append(bench_batch_import(url, folder))
    shutil.rmtree(folder, ignore_errors=True)
    return rows


def bench_batch_import(url: str, folder: Path) -> tuple[str, str, str]:
    from hub.core import Hub
    from hub.db import transaction
    from hub.intake_schema import validate_item
    from hub.queue import enqueue
    from hub.settings import Settings

    hub = Hub.open(Settings(env="test", database_url=url, var_dir=folder))
    try:
        source = hub.source_ids["import"]
        n, batch = 50_000, 2_000
        items = [validate_item({"external_id": f"imp-{i}", "title": "咨询公积金提取",
                                "body": f"第{i}条: 请问离职后住房公积金如何提取，需要哪些材料？"})
                 for i in range(n)]
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            with transaction(hub.sessions) as s:
                enqueue(s, source, items[start:start + batch])
        rate = n / (time.perf_counter() - t0)
    finally:
        hub.close()
    return (f"batch import, {batch}/transaction ({hub.engine.dialect.name})",
            f"{rate:,.0f}/s", ">= 5,000/s")


def main() -> int:
    from hub.cli import use_uvloop

    use_uvloop()  # the load generator shares the 2 cores: keep it cheap
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    for kind in ("sqlite", "postgresql"):
        if args.only and kind != args.only:
            continue
        try:
            rows += bench_intake(kind, args.pg, args.seconds)
        except Exception as exc:  # e.g. no PostgreSQL here: say so, keep the table
            rows.append((f"intake ({kind})", f"skipped: {exc}"[:60], ""))
    if not args.only:
        from benchmarks.router import bench_router

        rows += bench_router(args.pg)
        connectors = subprocess.run([sys.executable, "-m", "benchmarks.connectors"],
                                    capture_output=True, text=True, check=False)
        print(connectors.stdout)
    print_table(rows)
    return 0


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'result':>30}  target")
    print("-" * (width + 48))
    for name, result, target in rows:
        print(f"{name:<{width}}  {result:>30}  {target}")


if __name__ == "__main__":
    sys.exit(main())
