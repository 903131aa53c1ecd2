"""Prometheus metrics (prometheus-client): what an operator graphs and alerts on.

Counters and histograms live in this process (each ``hub serve`` is scraped on its
own port: see README, Operations); the queue, overdue cases and job leases are read
from the database when scraped, cached briefly, so every process reports the same
deployment-wide figures for them. This module imports nothing of the hub's, so any
layer may count into it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

disable_created_metrics()  # a *_created series per counter doubles the output for nothing
SLOW = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)

HTTP_REQUESTS = Counter("hub_http_requests", "HTTP requests answered, by route and status",
                        ["route", "method", "status"])
HTTP_SECONDS = Histogram("hub_http_request_duration_seconds",
                         "time to answer a request, by route", ["route", "method"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
JOB_RUNS = Counter("hub_job_runs", "scheduled job runs in this process, by outcome",
                   ["job", "outcome"])
JOB_SECONDS = Histogram("hub_job_duration_seconds", "how long scheduled jobs ran", ["job"],
                        buckets=SLOW)
LEASE_TAKEOVERS = Counter("hub_lease_takeovers",
                          "job leases taken over after their holder stopped renewing them "
                          "(a process died or hung)", ["job"])
LEASES_LOST = Counter("hub_leases_lost", "leases this process held and found taken by another "
                      "(it stalled past its lease)", ["job"])
PIPELINE_APPEALS = Counter("hub_pipeline_appeals", "appeals claimed by this process's pipeline")
PIPELINE_CASES = Counter("hub_pipeline_cases_opened", "cases opened by this process's pipeline")
PIPELINE_SECONDS = Histogram("hub_pipeline_batch_duration_seconds",
                             "time for one pipeline batch (claim, route, open cases)",
                             buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PULLS = Counter("hub_source_pulls", "scheduled pulls of a channel, by outcome (ok, error, "
                "paused)", ["source", "outcome"])
PULL_ITEMS = Counter("hub_source_items", "items read from a channel, by result (new, "
                     "duplicate, quarantined)", ["source", "result"])
DATABASE_ERRORS = Counter("hub_database_unavailable", "requests and jobs that found the "
                          "database unavailable, locked, read-only or full", ["code"])


def job_finished(job: str, seconds: float, ok: bool) -> None:
    JOB_RUNS.labels(job, "ok" if ok else "error").inc()
    JOB_SECONDS.labels(job).observe(seconds)


class DatabaseGauges(Collector):
    """Gauges read from the database at scrape time (at most every ``max_age`` s)."""

    def __init__(self, read: Callable[[], dict[str, Any]], max_age: float = 15.0) -> None:
        self.read, self.max_age = read, max_age
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Any]:
        return []  # read lazily: registering must not query the database

    def _values(self) -> dict[str, Any] | None:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.max_age:
                return self._cached[1]
            try:
                values = self.read()
            except Exception:
                DATABASE_ERRORS.labels("metrics_read").inc()
                return None
            self._cached = (time.monotonic(), values)
            return values

    def collect(self) -> Iterable[Any]:
        values = self._values()
        up = GaugeMetricFamily("hub_database_up", "1 when the scrape could read the database")
        up.add_metric([], 0 if values is None else 1)
        yield up
        if values is None:
            return
        yield GaugeMetricFamily("hub_queue_depth", "appeals waiting for the pipeline "
                                "(queued, or claimed by a worker whose lease ran out)",
                                value=values["queue_depth"])
        yield GaugeMetricFamily("hub_queue_oldest_age_seconds",
                                "age of the oldest appeal waiting for the pipeline (0: none)",
                                value=values["queue_oldest_age"])
        overdue = GaugeMetricFamily("hub_cases_overdue", "open cases past their deadline, by "
                                    "unit", labels=["unit"])
        for unit, count in sorted(values["overdue"].items()):
            overdue.add_metric([unit], count)
        yield overdue
        leases = GaugeMetricFamily("hub_job_lease_stuck", "1 for a job whose lease is stuck "
                                   "(holder stopped renewing) or that is late", labels=["job"])
        last = GaugeMetricFamily("hub_job_last_started_timestamp_seconds",
                                 "when an interval job last started", labels=["job"])
        for name, state in sorted(values["leases"].items()):
            leases.add_metric([name], 1 if state["stuck"] else 0)
            if state["started_at"] is not None:
                last.add_metric([name], state["started_at"].timestamp())
        yield leases
        yield last
        yield GaugeMetricFamily("hub_quarantined_items", "items waiting in quarantine",
                                value=values["quarantined"])


def register(collector: Collector) -> None:
    REGISTRY.register(collector)


def unregister(collector: Collector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass
