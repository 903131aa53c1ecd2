"""Lifecycle, ranking and inbox benchmarks over a large database (default 1,000,000
cases), on SQLite and PostgreSQL. Each measured step runs in its own process so
its peak memory is its own.

    python -m benchmarks.lifecycle [--cases 1000000] [--only sqlite|postgresql]
        [--steps deadline,rank-week,rank-week-figures,hot-week,rank-year,transitions,inbox]

Ranking steps: ``rank-week`` is what the Monday job (or ``hub rank --period 2026-W46
--out DIR``) does with last week's report stored: the week's figures, movement
against the stored week before, hot issues, all four files;
``rank-week-figures`` only the week's figures, scores and lists; ``hot-week`` only
its hot issues (aggregating the topics assigned as appeals arrived); ``rank-year``
the year's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.util import free_port, peak_rss_mb, wait_for_port

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
Row = tuple[str, str, str]


def _hub(url: str, folder: str) -> Any:
    from hub.core import Hub
    from hub.settings import Settings

    return Hub.open(Settings(env="test", database_url=url, var_dir=Path(folder),
                             scheduler_enabled=False, pipeline_enabled=False))


def step(name: str, url: str, folder: str) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    hub = _hub(url, folder)
    t0, cpu0 = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {}
    try:
        if name == "deadline":
            from hub.db import transaction
            from hub.lifecycle.calendar import WorkCalendar
            from hub.lifecycle.deadlines import check_deadlines

            with transaction(hub.sessions) as s:
                out = check_deadlines(s, hub.config.deadlines,
                                      WorkCalendar(hub.config.deadlines), now=NOW)
            if url.startswith("postgresql"):  # what autovacuum would do after such a change
                from sqlalchemy import text

                with hub.engine.connect() as conn:
                    conn.execute(text("ANALYZE work_order"))
                    conn.commit()
        elif name == "transitions":
            from sqlalchemy import select

            from hub.db import transaction
            from hub.lifecycle.service import CaseService
            from hub.models import Case

            svc = CaseService(hub.config, hub.unit_ids)
            with hub.sessions() as s:
                ids = list(s.scalars(select(Case.id).where(Case.state == "assigned")
                                     .limit(1000)))
            t0, cpu0 = time.perf_counter(), time.process_time()
            for case_id in ids:
                with transaction(hub.sessions) as s:
                    svc.sign(s, case_id, "bench")
                with transaction(hub.sessions) as s:
                    svc.reply(s, case_id, "bench", "已办理完毕，感谢您的监督。")
            out = {"transitions": 2 * len(ids)}
        elif name == "rank-week":
            from hub.db import transaction
            from hub.lifecycle.calendar import WorkCalendar
            from hub.ranking.period import parse_period
            from hub.ranking.report import build_report, store
            from hub.ranking.service import rank

            calendar = WorkCalendar(hub.config.deadlines)
            with transaction(hub.sessions) as s:  # last Monday's report, as the job left it
                store(s, build_report(s, hub.config, parse_period("2026-W45", calendar.tz),
                                      calendar, with_hot_issues=False), NOW)
            t0, cpu0 = time.perf_counter(), time.process_time()
            report = rank(hub, "2026-W46", Path(folder) / "reports", recompute=True, now=NOW)
            out = {"ranked": sum(1 for e in report["entries"] if e["rank"]),
                   "hot_issues": len(report["hot_issues"]),
                   "due": report["city_totals"]["due"]}
        elif name in ("rank-week-figures", "rank-year"):
            from hub.lifecycle.calendar import WorkCalendar
            from hub.ranking.period import parse_period
            from hub.ranking.report import build_report

            calendar = WorkCalendar(hub.config.deadlines)
            period = parse_period("2026-W46" if name == "rank-week-figures" else "2026",
                                  calendar.tz)
            with hub.sessions() as s:
                report = build_report(s, hub.config, period, calendar, with_hot_issues=False)
            out = {"ranked": sum(1 for e in report["entries"] if e["rank"]),
                   "due": report["city_totals"]["due"]}
        elif name == "hot-week":
            from hub.lifecycle.calendar import WorkCalendar
            from hub.ranking.hot import hot_issues
            from hub.ranking.period import parse_period

            period = parse_period("2026-W46", WorkCalendar(hub.config.deadlines).tz)
            with hub.sessions() as s:
                out = {"hot_issues": len(hot_issues(s, period, hub.config))}
    finally:
        hub.close()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    # VmHWM, not ru_maxrss: Linux carries the parent's high-water mark across exec
    out["peak_rss_mb"] = round(peak_rss_mb(os.getpid()))
    # this process's CPU for the step (a loaded machine stretches wall time; the
    # PostgreSQL server's own work is not in it)
    out["cpu_seconds"] = round(time.process_time() - cpu0, 2)
    return out


def run_step(name: str, url: str, folder: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.lifecycle", "--step", name,
                           "--url", url, "--folder", folder], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def _latencies(port: int, paths: list[str], user: str, seconds: float,
                     clients: int = 20, think: float = 1.0) -> list[float]:
    """``clients`` users each asking for a page, reading it for ``think`` seconds
    (randomised ±50%), and asking again: an office, not a load test. Each page is
    asked for once first, untimed: the figures are for a server that is running."""
    timings: list[float] = []
    sessions = []
    for _ in range(clients):  # log everyone in first: argon2 is slow on purpose
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.post(f"http://127.0.0.1:{port}/api/v1/staff/login",
                             json={"username": user, "password": "benchmark-password"}) as resp:
            assert resp.status == 200, await resp.text()
        sessions.append(http)
    for path in paths[:20]:  # warm-up, not timed: connections, plans, cold pages
        async with sessions[0].get(f"http://127.0.0.1:{port}{path}") as resp:
            await resp.read()
    stop = time.monotonic() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        rng = random.Random()
        await asyncio.sleep(rng.uniform(0, think))  # users do not start in step
        while time.monotonic() < stop:
            path = rng.choice(paths)
            t0 = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                await resp.read()
                assert resp.status == 200, (path, resp.status)
            timings.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        await http.close()

    await asyncio.gather(*(client(h) for h in sessions))
    return timings


def inbox(url: str, folder: str, cases: int, seconds: float) -> list[Row]:
    from sqlalchemy import select

    from hub.db import transaction
    from hub.models import User
    from hub.web.auth import add_user

    hub = _hub(url, folder)
    with transaction(hub.sessions) as s:
        if not s.scalar(select(User.id).where(User.username == "bench-disp")):
            add_user(s, "bench-disp", "benchmark-password", "dispatcher")
            add_user(s, "bench-unit", "benchmark-password", "unit", unit_code="zhujian")
    hub.close()
    port = free_port()
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_VAR_DIR": folder, "HUB_PORT": str(port),
           "HUB_SCHEDULER": "0", "HUB_PIPELINE": "0", "HUB_ENV": "dev"}
    server = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows: list[Row] = []
    try:
        wait_for_port(port, 120)
        rng = random.Random(3)
        kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        lists = ["/inbox", "/inbox?view=triage", "/inbox?sort=deadline", "/inbox?page=3",
                 "/inbox?view=late", "/inbox?state=signed"]
        case_pages = [f"/cases/{rng.randint(1, cases)}" for _ in range(200)]
        searches = ["/inbox?q=" + q for q in ("停水", "噪音", "物业", "拖欠工资", "路灯")]
        for label, user, paths in (("inbox list, dispatcher", "bench-disp", lists),
                                   ("inbox list, unit staff", "bench-unit",
                                    ["/inbox", "/inbox?view=mine"]),
                                   ("case page", "bench-disp", case_pages),
                                   ("search", "bench-disp", searches)):
            t = asyncio.run(_latencies(port, paths, user, seconds))
            t.sort()
            rows.append((f"{label} ({kind}, {cases:,} cases, 20 users, 1 s think)",
                         f"p50 {statistics.median(t):.0f} ms, p99 {t[int(0.99 * len(t))]:.0f} ms",
                         "p99 <= 100 ms"))
    finally:
        server.terminate()
        server.wait(10)
    return rows


STEPS = ("deadline", "rank-week", "rank-week-figures", "hot-week", "rank-year", "transitions",
         "inbox")
LABELS = {"deadline": "deadline job", "rank-week": "ranking a week (`hub rank`, all files)",
          "rank-week-figures": "  of which the week's figures and lists",
          "hot-week": "  of which hot issues (aggregating topics)", "rank-year": "ranking a year"}


def bench(kind: str, cases: int, pg: str, seconds: float,
          steps: tuple[str, ...] = STEPS, keep: bool = False) -> list[Row]:
    from benchmarks.__main__ import fresh_database
    from benchmarks.bigdb import populate
    from benchmarks.router import distinct_texts

    folder = tempfile.mkdtemp(prefix=f"hub-big-{kind}-")
    url = fresh_database(kind, pg, Path(folder))
    try:
        hub = _hub(url, folder)
        ranked = {"rank-week", "hot-week", "rank-year"} & set(steps)
        made = populate(hub, cases, distinct_texts(7000), search_index="inbox" in steps,
                        topic_index=bool(ranked))
        hub.close()
        name = "PostgreSQL" if kind == "postgresql" else "SQLite"
        rows: list[Row] = [(f"generate {cases:,} cases ({name})",
                            f"{made['seconds']} s, {made['events']:,} events", "")]
        if "inbox" in steps:
            rows.append((f"search index of {cases:,} appeals, `hub reindex` ({name})",
                         f"{made['search_index_seconds']} s", ""))
        if ranked:
            rows.append((f"topics of {cases:,} appeals, as the topic job assigns them ({name})",
                         f"{made['topic_seconds']} s", ""))
        return rows + measure(url, folder, cases, seconds, steps)
    finally:
        if keep:
            print(f"kept: --reuse {url} --folder {folder}", file=sys.stderr)
        else:
            _drop(url, folder)


def _drop(url: str, folder: str) -> None:
    """The machine is shared: a million-case database does not outlive its run."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        base, name = url.rsplit("/", 1)
        admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(url: str, folder: str, cases: int, seconds: float,
            steps: tuple[str, ...]) -> list[Row]:
    name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    rows: list[Row] = []
    for key in (s for s in STEPS if s in steps and s in LABELS):
        r = run_step(key, url, folder)
        target = "10 s, 500 MiB at 1,000,000" if key == "rank-week" else ""
        rows.append((f"{LABELS[key]} over {cases:,} cases ({name})",
                     f"{r['seconds']} s ({r['cpu_seconds']} s CPU in-process), "
                     f"{r['peak_rss_mb']} MiB", target))
    if "transitions" in steps:
        r = run_step("transitions", url, folder)
        rows.append((f"state transitions ({name}, one transaction each)",
                     f"{r['transitions'] / r['seconds']:,.0f}/s", ""))
    if "inbox" in steps:
        rows += inbox(url, folder, cases, seconds)
    return rows


def deadline_only(cases: int, pg: str, only: str | None) -> list[Row]:
    from benchmarks.__main__ import fresh_database
    from benchmarks.bigdb import populate_open

    rows: list[Row] = []
    for kind in ("sqlite", "postgresql"):
        if only and kind != only:
            continue
        folder = tempfile.mkdtemp(prefix=f"hub-open-{kind}-")
        url = fresh_database(kind, pg, Path(folder))
        hub = _hub(url, folder)
        made = populate_open(hub, cases)
        hub.close()
        name = "PostgreSQL" if kind == "postgresql" else "SQLite"
        r = run_step("deadline", url, folder)
        rows.append((f"deadline job over {cases:,} open cases ({name}; generated in "
                     f"{made['seconds']} s)", f"{r['seconds']} s, {r['peak_rss_mb']} MiB", ""))
        rows.append(("  marked (due soon / overdue / urged / escalated)",
                     f"{r.get('due_soon')} / {r.get('overdue')} / {r.get('urged')} / "
                     f"{r.get('escalated')}", ""))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg", default=os.environ.get("HUB_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--open-cases", type=int,
                        help="only the deadline job, over this many open cases")
    parser.add_argument("--reuse", help="measure the inbox on an existing benchmark database")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated subset of: " + ", ".join(STEPS))
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated databases (for --reuse; printed at the end)")
    parser.add_argument("--step")
    parser.add_argument("--url")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.url, args.folder)))
        return 0
    rows: list[Row] = []
    if args.open_cases:
        rows += deadline_only(args.open_cases, args.pg, args.only)
    elif args.reuse:  # steps on a kept database: --reuse URL --folder DIR --cases N
        rows += measure(args.reuse, args.folder or tempfile.mkdtemp(), args.cases,
                        args.seconds, tuple(args.steps.split(",")))
    for kind in () if args.reuse or args.open_cases else ("sqlite", "postgresql"):
        if not args.only or args.only == kind:
            rows += bench(kind, args.cases, args.pg, args.seconds,
                          tuple(args.steps.split(",")), args.keep)
    from benchmarks.__main__ import print_table

    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
