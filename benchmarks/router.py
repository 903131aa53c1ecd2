"""Router and pipeline benchmarks: model size/load time, prediction throughput and
latency, and the pipeline end to end (queue -> case) on SQLite."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from classifiers.model import CategoryClassifier
from classifiers.router import train_seed_model
from classifiers.train import SEED_CORPUS, Columns, labelled

Row = tuple[str, str, str]


def bench_router(pg_url: str | None = None) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="hub-router-"))
    path = folder / "router.joblib"
    t0 = time.perf_counter()
    train_seed_model(path)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = CategoryClassifier.load(path)
    load_s = time.perf_counter() - t0
    texts, _ = labelled(SEED_CORPUS, Columns())
    batch = (texts * 60)[:2000]
    model.top(batch[:10])  # warm jieba
    t0 = time.perf_counter()
    model.top(batch)
    rate = len(batch) / (time.perf_counter() - t0)
    single = []
    for text in batch[:300]:
        t1 = time.perf_counter()
        model.top([text])
        single.append((time.perf_counter() - t1) * 1000)
    single.sort()
    return [
        ("router: train seed model", f"{train_s:.1f} s", ""),
        ("router: model size / load time",
         f"{path.stat().st_size / 1024:.0f} KiB / {load_s * 1000:.0f} ms", ""),
        ("router: batch prediction", f"{rate:,.0f}/s", ""),
        ("router: single appeal p50 / p99",
         f"{statistics.median(single):.1f} / {single[int(len(single) * .99) - 1]:.1f} ms", ""),
        bench_pipeline(folder, path),
        bench_pipeline(folder, path, repeats=50),
        bench_pipeline(folder, path, processes=2),
        *([bench_pipeline(folder, path, processes=2, pg_url=pg_url),
           bench_pipeline(folder, path, pg_url=pg_url, repeats=50)] if pg_url else []),
        *bench_cross_validation(),
    ]


def bench_cross_validation(repeats: int = 3) -> list[Row]:
    """5-fold CV on the shared labelled file with everything beside it (as `hub train`),
    repeated with ``repeats`` shuffles: with 300 messages one split moves macro-F1 by
    about ±0.005, so the mean is the figure. Skipped when the shared data is absent."""
    from classifiers.train import (
        Extras,
        build_training_set,
        choose_threshold,
        cross_validate,
        metrics,
    )

    labelled_file = Path(__file__).resolve().parents[2] / "shared" / "data" / "labelled_train.csv"
    if not labelled_file.exists():
        return [("router: 5-fold CV on labelled_train.csv", "skipped: no shared data", "")]
    texts, labels = labelled(labelled_file, Columns())
    data = build_training_set(texts, labels, Extras.beside(labelled_file), Columns())
    t0 = time.perf_counter()
    reports = []
    for seed in range(repeats):
        predicted, confidence = cross_validate(data, seed=seed)
        threshold = choose_threshold(data.labels, predicted, confidence, 0.9)
        reports.append(metrics(data.labels, predicted, confidence, threshold))
    seconds = (time.perf_counter() - t0) / repeats
    f1s = [r["macro_f1"] for r in reports]
    first = reports[0]
    return [
        (f"router: 5-fold CV macro-F1, mean of {repeats} shuffles (labelled_train.csv)",
         f"{statistics.mean(f1s):.3f} ({' / '.join(f'{f:.3f}' for f in f1s)})",
         "macro-F1 >= 0.85"),
        ("router: CV accuracy, mean", f"{statistics.mean(r['accuracy'] for r in reports):.3f}",
         ""),
        ("router: auto-routed share at its accuracy (first shuffle)",
         f"{first['auto_routed_share']:.0%} at {first['auto_routed_accuracy']:.0%}",
         "threshold for >= 90%"),
        ("router: one 5-fold CV (5 trainings on 300 + 8,000 texts)", f"{seconds:.0f} s", ""),
    ]


def distinct_texts(n: int) -> list[str]:
    """Real, mostly distinct messages (the shared data when present): repeating the
    seed corpus would measure the duplicate-merging path instead."""
    import csv

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    texts: list[str] = []
    for name in ("messages_with_votes.csv", "messages_with_replies.csv"):
        if (shared / name).exists():
            with (shared / name).open(encoding="utf-8-sig") as fh:
                texts += [f"{r.get('留言主题', '')}\n{r.get('留言详情', '')}"
                          for r in csv.DictReader(fh)]
    if len(texts) < n:
        seed, _ = labelled(SEED_CORPUS, Columns())
        texts += [f"第{i}号反映：{seed[i % len(seed)]}（{i * 7919 % 100003}）"
                  for i in range(n - len(texts))]
    return texts[:n]


def _drain_worker(settings: object, ready: object, go: object, done: object) -> None:
    """One pipeline process: load the router, wait for the start, drain the queue."""
    from classifiers.router import load_router
    from hub.core import Hub
    from hub.pipeline import Pipeline

    hub = Hub.open(settings, prepare=False)  # type: ignore[arg-type]
    try:
        pipeline = Pipeline(hub, load_router(hub), batch_size=500)
        ready.set()  # type: ignore[attr-defined]
        go.wait()  # type: ignore[attr-defined]
        done.put(pipeline.drain())  # type: ignore[attr-defined]
    finally:
        hub.close()


def bench_pipeline(folder: Path, model_path: Path, processes: int = 1, n: int = 5000,
                   pg_url: str | None = None, repeats: int = 1) -> Row:
    """Queue -> case for ``n`` real messages, drained by ``processes`` worker processes
    (as two `hub serve` processes would) on one SQLite file, or on a fresh PostgreSQL
    database when ``pg_url`` is given; start-up not timed. With ``repeats`` > 1 each
    message comes ``repeats`` times, shuffled (matters reported again and again: the
    duplicate-linking path)."""
    import multiprocessing
    import random

    from benchmarks.__main__ import fresh_database
    from hub.core import Hub
    from hub.db import transaction
    from hub.intake_schema import validate_item
    from hub.queue import enqueue
    from hub.settings import Settings

    kind = "postgresql" if pg_url else "sqlite"
    url = fresh_database(kind, pg_url or "", folder / f"p{processes}r{repeats}")
    settings = Settings(env="test", database_url=url, var_dir=folder, model_path=model_path)
    hub = Hub.open(settings)
    try:
        texts = [t for t in distinct_texts(n // repeats) for _ in range(repeats)]
        random.Random(22).shuffle(texts)
        items = [validate_item({"external_id": f"p{i}", "body": t})
                 for i, t in enumerate(texts)]
        with transaction(hub.sessions) as s:
            enqueue(s, hub.source_ids["import"], items)
    finally:
        hub.close()
    ctx = multiprocessing.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(processes)]
    workers = [ctx.Process(target=_drain_worker, args=(settings, r, go, done)) for r in readies]
    for w in workers:
        w.start()
    for r in readies:
        r.wait(120)
    t0 = time.perf_counter()
    go.set()
    opened = sum(done.get(timeout=600) for _ in workers)
    rate = opened / (time.perf_counter() - t0)
    for w in workers:
        w.join()
    what = "real messages" if repeats == 1 else f"{n // repeats} messages x {repeats}"
    return (f"pipeline queue -> case, {processes} process{'es' if processes > 1 else ''} "
            f"({kind}, {what})", f"{rate:,.0f}/s", ">= 1,000/s on 2 cores"
            if processes > 1 else "")
