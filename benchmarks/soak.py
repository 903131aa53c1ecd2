"""Soak: a real `hub serve` under a steady stream of appeals with hot events in it.

    python -m benchmarks.soak [--minutes 30] [--rate 100] [--near-dup-share 0.05]
        [--hot-events 1] [--hot-size 10000] [--hot-minutes 60] [--hot-start 3]
        [--db sqlite | postgresql+psycopg://user@host/db] [--interval 30] [--port N]

The hub runs as deploy/ runs it (``--layout deployed``): a web process takes the
intake and runs a pipeline, a worker process runs the scheduler's jobs (search index,
topics, deadlines, ranking) and a pipeline; RSS is the two summed. ``--layout
single`` runs everything in one process.
this process posts single appeals at a fixed rate through the intake API (open
loop: a send is timed from when it was due, so a slow server cannot slow the load
down) and watches the database and the server's memory. Every interval it prints
intake rate and p50/p99, errors, queue depth and the age of the oldest queued
appeal, pipeline throughput (cases opened per second), server RSS, surges raised
and the largest cluster. At the end: the figures against the targets of issue 22
(queue never older than 10 s, RSS growth after warm-up <= 10 %, intake p99 <= 50 ms)
and how long the queue took to drain. Nothing is asserted: speed is measured.

Background appeals are real board messages recombined (three messages, two
sentences each: distinct matters), or the seed corpus when the shared data is
absent; ``--near-dup-share`` of them repeat a recent one in other words (a second
call about the same thing). Each hot event sends ``--hot-size`` callers of one
matter (hub/surge/simulate.py) spread over ``--hot-minutes``, inside the total rate.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

from benchmarks.util import free_port, stop, wait_for_port

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_AGE_S, TARGET_RSS_GROWTH, TARGET_P99_MS = 10.0, 0.10, 50.0
_SENTENCE = re.compile(r"[^。！？!?；;]{8,80}[。！？!?；;]")


# -- what is sent -----------------------------------------------------------------------
def sentences() -> list[str]:
    """Sentences of real messages (or of the seed corpus)."""
    rows: list[str] = []
    for name in ("messages_with_votes.csv", "messages_with_replies.csv"):
        if (SHARED / name).exists():
            with (SHARED / name).open(encoding="utf-8-sig") as fh:
                rows += [r.get("留言详情") or "" for r in csv.DictReader(fh)]
    if not rows:
        from classifiers.train import SEED_CORPUS, Columns, labelled

        rows, _ = labelled(SEED_CORPUS, Columns())
    found = [m.group(0) for row in rows for m in _SENTENCE.finditer(row)]
    return found or rows


class Texts:
    """Background appeals: new matters, and now and then a repeat of a recent one."""

    def __init__(self, near_dup_share: float, seed: int = 22) -> None:
        self.pool = sentences()
        self.rng = random.Random(seed)
        self.share = near_dup_share
        self.recent: deque[str] = deque(maxlen=2000)

    def next(self) -> str:
        if self.recent and self.rng.random() < self.share:
            earlier = self.rng.choice(self.recent)
            return f"再次反映（第{self.rng.randint(2, 9)}次）：{earlier}"
        county = f"A{self.rng.randint(1, 9)}区"
        body = county + "".join(self.rng.sample(self.pool, 6))
        self.recent.append(body)
        return body


@dataclass
class Plan:
    """What to send in each second of the run."""

    seconds: int
    rate: float
    hot_size: int
    hot_seconds: int
    hot_starts: list[int]

    def hot_due(self, second: float) -> list[int]:
        """Per hot event, how many of its callers are due by ``second``."""
        out = []
        for start in self.hot_starts:
            elapsed = min(max(second - start, 0.0), self.hot_seconds)
            out.append(min(self.hot_size, int(elapsed * self.hot_size / self.hot_seconds)))
        return out


# -- measuring --------------------------------------------------------------------------
@dataclass
class Interval:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q) - 1))] * 1000


def rss_mb(pids: list[int]) -> float:
    """The servers' resident memory, summed."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next(int(line.split()[1]) for line in fh
                              if line.startswith("VmRSS:")) / 1024
        except (OSError, StopIteration):
            return float("nan")
    return total


class Watcher:
    """Reads the queue, cases and surges from the database (its own connection)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import inspect

        self.engine = create_engine(url)
        self.last_case = 0
        self.last_t = time.monotonic()
        # a server from before clusters existed (--server-pythonpath) has no such tables
        self.has_clusters = inspect(self.engine).has_table("appeal_cluster")

    def read(self) -> dict[str, float]:
        from datetime import UTC, datetime

        with self.engine.connect() as conn:
            depth, oldest = conn.execute(text(
                "SELECT count(*), min(id) FROM appeal WHERE state IN ('queued', 'processing')")
            ).one()
            received = conn.execute(text("SELECT received_at FROM appeal WHERE id = :i"),
                                    {"i": oldest}).scalar() if oldest else None
            cases = conn.execute(text("SELECT coalesce(max(id), 0) FROM work_order")).scalar()
        surges = biggest = float("nan")
        if self.has_clusters:
            with self.engine.connect() as conn:
                surges = conn.execute(text("SELECT count(*) FROM surge")).scalar()
                biggest = conn.execute(text(
                    "SELECT coalesce(max(size), 0) FROM appeal_cluster")).scalar()
        age = 0.0
        if received is not None:
            if not isinstance(received, datetime):  # SQLite hands back text
                received = datetime.fromisoformat(str(received))
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - received).total_seconds())
        t = time.monotonic()
        rate = (cases - self.last_case) / max(t - self.last_t, 1e-6)
        self.last_case, self.last_t = cases, t
        return {"depth": depth, "age": age, "cases": cases, "pipeline": rate,
                "surges": surges, "biggest": biggest}


@dataclass
class Summary:
    sent: int = 0
    hot_sent: int = 0
    errors: int = 0
    max_age: float = 0.0
    max_depth: float = 0.0
    worst_p99: float = 0.0
    p99_after_warmup: float = float("nan")
    rss_warm: float = float("nan")


# -- the run ----------------------------------------------------------------------------
async def drive(port: int, plan: Plan, texts: Texts, watcher: Watcher, server_pids: list[int],
                interval_s: int, warmup_s: int) -> Summary:
    from hub.surge.simulate import caller_text, event

    url = f"http://127.0.0.1:{port}/api/v1/appeals"
    headers = {"X-Api-Key": "dev-hotline-push-key"}
    rng = random.Random(7)
    events = [event(i) for i in range(len(plan.hot_starts))]
    summary = Summary()
    current = Interval()
    after_warmup: list[float] = []
    in_flight: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(512)
    t0 = time.monotonic()

    async def post(session: aiohttp.ClientSession, body: dict[str, object], due: float,
                   bucket: Interval) -> None:
        async with limit:
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status in (200, 201)
            except aiohttp.ClientError:
                ok = False
        if not ok:
            bucket.errors += 1
            return
        latency = time.monotonic() - due  # from when it was due: queueing here counts too
        bucket.latencies.append(latency)
        if due - t0 >= warmup_s:
            after_warmup.append(latency)

    print(f"{'min':>5} {'intake/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
          f"{'queue':>6} {'oldest s':>8} {'cases/s':>7} {'RSS MiB':>7} {'surges':>6} "
          f"{'largest cluster':>15}", flush=True)
    hot_done = [0] * len(events)
    background_due, last = 0.0, 0.0
    next_report = interval_s
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:
        while (now := time.monotonic() - t0) < plan.seconds:
            hot_rate = sum(plan.hot_size / plan.hot_seconds for start in plan.hot_starts
                           if start <= now < start + plan.hot_seconds)
            background_due += max(plan.rate - hot_rate, 0.0) * (now - last)
            last = now
            batch: list[dict[str, object]] = []
            for i, due in enumerate(plan.hot_due(now)):
                while hot_done[i] < due:
                    hot_done[i] += 1
                    batch.append({"body": caller_text(events[i], rng),
                                  "contact_phone": f"13{rng.randint(100000000, 999999999)}"})
            while background_due >= 1:
                background_due -= 1
                batch.append({"body": texts.next()})
            for body in batch:
                summary.sent += 1
                body["external_id"] = f"soak-{summary.sent}"
                task = asyncio.create_task(post(session, body, t0 + now, current))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if now >= next_report:
                stats = await asyncio.to_thread(watcher.read)
                rss = rss_mb(server_pids)
                if summary.rss_warm != summary.rss_warm and now >= warmup_s:  # NaN: not yet
                    summary.rss_warm = rss
                p99 = pct(current.latencies, 0.99)
                print(f"{now / 60:5.1f} {len(current.latencies) / interval_s:8.1f} "
                      f"{pct(current.latencies, 0.5):7.1f} {p99:7.1f} {current.errors:4d} "
                      f"{stats['depth']:6.0f} {stats['age']:8.1f} {stats['pipeline']:7.1f} "
                      f"{rss:7.0f} {stats['surges']:6.0f} {stats['biggest']:15.0f}", flush=True)
                summary.max_age = max(summary.max_age, stats["age"])
                summary.max_depth = max(summary.max_depth, stats["depth"])
                if now >= warmup_s:
                    summary.worst_p99 = max(summary.worst_p99, p99)
                summary.errors += current.errors
                current = Interval()
                next_report += interval_s
            await asyncio.sleep(0.01)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
    summary.errors += current.errors
    summary.hot_sent = sum(hot_done)
    summary.p99_after_warmup = pct(after_warmup, 0.99)
    return summary


def run(args: argparse.Namespace) -> int:
    from classifiers.router import train_seed_model

    folder = Path(tempfile.mkdtemp(prefix="hub-soak-"))
    kind = "sqlite" if args.db == "sqlite" else "postgresql"
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'soak.sqlite3'}"
    else:
        from benchmarks.__main__ import fresh_database

        url = fresh_database("postgresql", args.db, folder)
    model = folder / "router.joblib"
    train_seed_model(model)
    port = args.port or free_port()
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": url,
           "HUB_VAR_DIR": str(folder), "HUB_MODEL_PATH": str(model), "HUB_PORT": str(port),
           "HUB_HOST": "127.0.0.1"}
    seconds = int(args.minutes * 60)
    hot_seconds = int(min(args.hot_minutes * 60, max(seconds - args.hot_start * 60, 60)))
    starts = [int(args.hot_start * 60 + i * args.hot_stagger * 60) for i in range(args.hot_events)]
    plan = Plan(seconds, args.rate, args.hot_size, hot_seconds, starts)
    warmup = int(min(args.warmup * 60, seconds / 3))
    print(f"soak on {kind}: {args.minutes:g} min at {args.rate:g}/s, near-duplicates "
          f"{args.near_dup_share:.0%}, {args.hot_events} hot event(s) of {args.hot_size} "
          f"callers over {hot_seconds / 60:.0f} min from minute {args.hot_start:g}; "
          f"warm-up {warmup / 60:.1f} min; {args.layout} layout, intake on port {port}",
          flush=True)
    if args.server_pythonpath:  # measure another checkout's server under the same load
        env["PYTHONPATH"] = args.server_pythonpath
    # the servers' logs go to files: a pipe nobody reads fills up (64 KiB of access
    # log, seconds at this rate) and then blocks the server's event loop on a write
    logs = [(folder / f"{role}.log").open("wb") for role in ("web", "worker")]
    # (port, scheduler, pipeline): "split" keeps the routing's CPU out of the web process
    layouts = {"deployed": [(port, "0", "1"), (free_port(), "1", "1")],
               "split": [(port, "0", "0"), (free_port(), "1", "1")],
               "single": [(port, "1", "1")]}
    servers = [subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(p)],
                                env={**env, "HUB_PORT": str(p), "HUB_SCHEDULER": scheduler,
                                     "HUB_PIPELINE": pipeline},
                                cwd=args.server_pythonpath or None,
                                stdout=subprocess.DEVNULL, stderr=log)
               for (p, scheduler, pipeline), log in zip(layouts[args.layout], logs,
                                                          strict=False)]
    pids = [server.pid for server in servers]
    watcher: Watcher | None = None
    try:
        for p, *_ in layouts[args.layout]:
            wait_for_port(p, timeout=180)
        watcher = Watcher(url)
        texts = Texts(args.near_dup_share)
        from hub.cli import use_uvloop

        use_uvloop()
        summary = asyncio.run(drive(port, plan, texts, watcher, pids, args.interval,
                                    warmup))
        drain_start = time.monotonic()
        stats = watcher.read()
        while stats["depth"] > 0 and time.monotonic() - drain_start < 300:
            time.sleep(1)
            stats = watcher.read()
        drained = time.monotonic() - drain_start
        time.sleep(min(30, args.interval))  # what memory does once the load stopped
        rss_end = rss_mb(pids)
    finally:
        stop(servers, timeout=60)
        for log in logs:
            log.close()
        if watcher is not None:
            watcher.engine.dispose()
    tail = [line for log in logs for line in Path(log.name).read_bytes().decode(
        "utf-8", "replace").strip().splitlines()[-5:]]
    warm = summary.rss_warm
    growth = (rss_end - warm) / warm
    print()
    print(f"sent {summary.sent} appeals ({summary.hot_sent} hot-event callers), "
          f"{summary.errors} errors; surges {stats['surges']:.0f}, largest cluster "
          f"{stats['biggest']:.0f}; queue drained {drained:.1f} s after the load stopped")
    rows = [
        ("oldest queued appeal, max", f"{summary.max_age:.1f} s", f"<= {TARGET_AGE_S:g} s"),
        ("queue depth, max", f"{summary.max_depth:.0f}", "bounded"),
        ("server RSS after warm-up -> after the run", f"{warm:.0f} -> {rss_end:.0f} MiB "
         f"({growth:+.1%})", f"<= +{TARGET_RSS_GROWTH:.0%}"),
        ("intake p99 after warm-up (worst interval)",
         f"{summary.p99_after_warmup:.1f} ms ({summary.worst_p99:.1f})",
         f"<= {TARGET_P99_MS:g} ms"),
    ]
    for name, value, target in rows:
        print(f"{name:<45} {value:>32}  {target}")
    if tail and any("Error" in line or "Traceback" in line for line in tail):
        print("server stderr (last lines):", *tail, sep="\n  ")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
        if kind == "postgresql":
            admin = create_engine(args.db, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                  "WITH (FORCE)"))
            admin.dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=100, help="appeals per second in all")
    parser.add_argument("--near-dup-share", type=float, default=0.05,
                        help="share of background appeals repeating a recent one")
    parser.add_argument("--hot-events", type=int, default=1)
    parser.add_argument("--hot-size", type=int, default=10_000, help="callers per hot event")
    parser.add_argument("--hot-minutes", type=float, default=60,
                        help="each hot event's callers are spread over this long, or over "
                             "what remains of the run if that is shorter: all are sent")
    parser.add_argument("--hot-start", type=float, default=3, help="minute the first begins")
    parser.add_argument("--hot-stagger", type=float, default=5,
                        help="minutes between the starts of hot events")
    parser.add_argument("--db", default="sqlite",
                        help=f"sqlite, or a PostgreSQL URL (a fresh database is made beside "
                             f"it), e.g. {DEFAULT_PG}")
    parser.add_argument("--interval", type=int, default=30, help="seconds between report lines")
    parser.add_argument("--warmup", type=float, default=3, help="minutes before RSS and p99 count")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--layout", choices=("deployed", "split", "single"), default="deployed",
                        help="deployed (deploy/): a web process takes the intake (pipeline, "
                        "no scheduler) beside a worker (scheduler and a pipeline); split: "
                        "the web process only takes the intake (HUB_PIPELINE=0), the "
                        "worker routes; single: one process does everything")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    parser.add_argument("--server-pythonpath", default="",
                        help="run the server from another checkout (before/after comparisons)")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
