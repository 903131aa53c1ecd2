"""The operator's assistant's latency (hub/knowledge/assistant.py): route the text,
search the knowledge base, find the open case telling the same matter, list the
caller's earlier cases, as /calls/assist does for each pause in typing.

    python -m benchmarks.assistant [--appeals 5000] [--calls 500]

A SQLite hub with the demo's knowledge base and ``--appeals`` real messages (the
shared data; the seed corpus without it) routed and clustered by the real pipeline;
then ``--calls`` call texts (other real messages, half of them a message already
filed told again, every tenth from a phone that called before) are suggested for,
one at a time. Target: p99 100 ms for a typical text.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appeals", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()

    from benchmarks.router import distinct_texts
    from classifiers.router import load_router, train_seed_model
    from hub.core import Hub
    from hub.db import transaction
    from hub.intake_schema import validate_item
    from hub.knowledge.assistant import suggest
    from hub.knowledge.demo_articles import seed
    from hub.models import utcnow
    from hub.pipeline import Pipeline
    from hub.queue import enqueue
    from hub.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="hub-assist-"))
    model = folder / "router.joblib"
    train_seed_model(model)
    hub = Hub.open(Settings(env="test", database_url=f"sqlite:///{folder / 'a.sqlite3'}",
                            var_dir=folder, model_path=model, scheduler_enabled=False,
                            pipeline_enabled=False))
    try:
        texts = distinct_texts(args.appeals + args.calls)
        filed, fresh = texts[:args.appeals], texts[args.appeals:]
        with transaction(hub.sessions) as s:
            seed(s, utcnow().date(), tuple(hub.config.routing.categories))
            enqueue(s, hub.source_ids["import"], [
                validate_item({"external_id": f"a{i}", "body": t,
                               "contact_phone": f"1390000{i % 5000:04d}"})
                for i, t in enumerate(filed)])
        router = load_router(hub)
        started = time.perf_counter()
        Pipeline(hub, router).drain()
        print(f"{len(filed)} appeals routed and clustered in "
              f"{time.perf_counter() - started:.1f} s")
        rng = random.Random(7)
        units = {u.code: u.name for u in hub.config.units}
        counties = {c.code: c.name for c in hub.config.counties}
        calls = [(rng.choice(filed) if n % 2 else fresh[n % len(fresh)],
                  f"1390000{rng.randrange(min(5000, len(filed))):04d}" if n % 10 == 0 else "")
                 for n in range(args.calls)]
        timings, callers = [], 0
        matched = {True: 0, False: 0}  # repeated text or not -> an open case found
        for n, (text, phone) in enumerate(calls):
            t0 = time.perf_counter()
            decision = router.route(text)
            now = utcnow()
            with hub.sessions() as s:
                hint = suggest(s, decision, "", text, phone, now, now.date(), units, counties)
            timings.append((time.perf_counter() - t0) * 1000)
            matched[bool(n % 2)] += hint["same_matter"] is not None
            callers += bool(hint["caller_cases"])
        timings.sort()
        print(f"{len(calls)} suggestions: p50 {statistics.median(timings):.1f} ms, "
              f"p99 {timings[int(0.99 * len(timings)) - 1]:.1f} ms, "
              f"max {timings[-1]:.1f} ms (target p99 100 ms)")
        print(f"an open case of the same matter found for {matched[True]} of "
              f"{len(calls) // 2} texts filed before, and for {matched[False]} of "
              f"{len(calls) - len(calls) // 2} new ones (the real messages hold "
              f"near-duplicates); earlier cases for {callers} of {len(calls) // 10} "
              "known phones")
    finally:
        hub.close()


if __name__ == "__main__":
    main()
