"""The router learning from dispatchers: a learning curve.

    python -m benchmarks.router_learning [--batch 30] [--test-share 0.34] [--seed 0]

A new city starts from the repo's seed model (36 made-up messages). Messages of
the shared labelled file arrive in batches, as a hotline's would; the router routes
each one, and a dispatcher corrects what it got wrong or sent to triage (what it
routed right automatically is never looked at, so never labelled: the loop only
learns from corrections, as classifiers/retrain.py does). After each batch the model
is retrained on the seed corpus plus every correction so far, keeping the seed's
threshold, and scored on a fixed stratified third of the file it never sees: macro-F1,
accuracy, and coverage and accuracy of what it routes automatically.

A second curve adds what a closed case confirms: a case routed automatically and
closed without 改派 or a rightful return is a label too (its category was right).
Learning only from mistakes trains on a biased sample (no plain examples of what the
model already gets right); the comparison shows how much that costs.

Skipped (one line) when ../shared/data/labelled_train.csv is absent.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from classifiers.model import CategoryClassifier
from classifiers.train import SEED_CORPUS, Columns, Extras, build_training_set, labelled, metrics

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "labelled_train.csv"
SEED_THRESHOLD = 0.3  # classifiers.router.train_seed_model's


def _fit(texts: list[str], labels: list[str]) -> CategoryClassifier:
    return CategoryClassifier().fit(build_training_set(texts, labels, Extras(), Columns()))


def _score(model: CategoryClassifier, texts: list[str], labels: list[str]) -> dict[str, float]:
    top = model.top(texts, k=1)
    report = metrics(labels, [t[0][0] for t in top], np.array([t[0][1] for t in top]),
                     SEED_THRESHOLD)
    return {k: report[k] for k in ("macro_f1", "accuracy", "auto_routed_share",
                                   "auto_routed_accuracy")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--test-share", type=float, default=0.34)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"skipped: {SHARED} not present")
        return
    seed_texts, seed_labels = labelled(SEED_CORPUS, Columns())
    texts, labels = labelled(SHARED, Columns())
    stream, test, stream_y, test_y = train_test_split(
        texts, labels, test_size=args.test_share, stratify=labels, random_state=args.seed)
    order = list(range(len(stream)))
    random.Random(args.seed).shuffle(order)
    print(f"{len(stream)} messages arrive in batches of {args.batch}; scored on {len(test)} "
          f"never seen; threshold {SEED_THRESHOLD} (the seed model's)")
    for confirmed in (False, True):
        print("\nlearning from " + ("corrections and confirmed closed cases" if confirmed
                                    else "corrections only"))
        _curve(seed_texts, seed_labels, stream, stream_y, test, test_y, order, args.batch,
               confirmed)


def _curve(seed_texts: list[str], seed_labels: list[str], stream: list[str],
           stream_y: list[str], test: list[str], test_y: list[str], order: list[int],
           size: int, confirmed: bool) -> None:
    model = _fit(seed_texts, seed_labels)
    corrections: list[tuple[str, str]] = []
    print(f"{'seen':>5} {'labels':>11} {'macro-F1':>8} {'accuracy':>8} "
          f"{'auto-routed':>11} {'its accuracy':>12} {'fit s':>6}")
    _line(0, 0, _score(model, test, test_y), 0.0)
    for start in range(0, len(order), size):
        batch = [order[i] for i in range(start, min(start + size, len(order)))]
        top = model.top([stream[i] for i in batch], k=1)
        for i, best in zip(batch, top, strict=True):
            category, p = best[0]
            if confirmed or p < SEED_THRESHOLD or category != stream_y[i]:
                corrections.append((stream[i], stream_y[i]))
        t0 = time.perf_counter()
        model = _fit(seed_texts + [t for t, _ in corrections],
                     seed_labels + [c for _, c in corrections])
        _line(start + len(batch), len(corrections), _score(model, test, test_y),
              time.perf_counter() - t0)


def _line(seen: int, corrections: int, s: dict[str, float], seconds: float) -> None:
    acc = s["auto_routed_accuracy"]
    print(f"{seen:>5} {corrections:>11} {s['macro_f1']:>8.3f} {s['accuracy']:>8.3f} "
          f"{s['auto_routed_share']:>11.1%} {'-' if acc is None else f'{acc:.1%}':>12} "
          f"{seconds:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
