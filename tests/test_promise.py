"""The router's promise (classifiers/promise.py): the threshold is set where the lower
confidence bound of auto-routed accuracy meets the target, counted per distinct
message across repeated cross-validation; a much harder category gets its own."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from classifiers import promise
from hub.settings import REPO_ROOT


def test_wilson_interval_matches_the_textbook() -> None:
    lo, hi = promise.wilson(95, 100)
    assert (lo, hi) == (pytest.approx(0.8882, abs=1e-4), pytest.approx(0.9785, abs=1e-4))
    assert promise.wilson(0, 0) == (0.0, 1.0)
    assert promise.lower_bound(10, 10) < 1.0  # ten out of ten promises less than 100 %


def pooled(rows: list[tuple[str, str, float]], repeats: int = 1) -> promise.Pooled:
    truth = np.array([[t for t, _, _ in rows]] * repeats, dtype=object)
    predicted = np.array([[p for _, p, _ in rows]] * repeats, dtype=object)
    confidence = np.array([[c for _, _, c in rows]] * repeats)
    return promise.Pooled(truth, predicted, confidence)


def test_the_bound_asks_for_more_than_the_point_estimate() -> None:
    """200 messages: above 0.8 confidence all right, 0.5-0.8 nine in ten right, below
    0.5 a coin toss. The point estimate would reach 90 % at a low threshold; the bound
    does not, and repeats of one message do not count as more evidence."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(200):
        c = i / 200
        right = True if c >= 0.8 else (i % 10 != 0) if c >= 0.5 else bool(rng.random() < 0.5)
        rows.append(("a", "a" if right else "b", c))
    point = promise.choose(pooled(rows), 0.9).threshold
    from classifiers.train import choose_threshold

    naive = choose_threshold([t for t, _, _ in rows], [p for _, p, _ in rows],
                             np.array([c for _, _, c in rows]), 0.9)
    assert point > naive
    again = promise.choose(pooled(rows, repeats=3), 0.9)
    assert again.threshold == point  # three copies of the same evidence: the same bound
    report = again.report
    lo, hi = report["auto_routed_accuracy_interval"]
    assert lo <= report["auto_routed_accuracy"] <= hi
    assert report["auto_routed_accuracy_lower_bound"] >= 0.9
    clo, chi = report["coverage_interval"]
    assert clo <= report["coverage"] <= chi and report["messages"] == 200


def test_a_much_harder_category_gets_its_own_threshold() -> None:
    rows = [("a", "a", 0.6 + i / 1000) for i in range(300)]  # always right
    rows += [("x", "b", 0.6 + i / 100) if i % 2 else ("b", "b", 0.6 + i / 100)
             for i in range(40)]  # 'b' predictions are right half the time below 0.95
    rows += [("b", "b", 0.96 + i / 1000) for i in range(30)]
    chosen = promise.choose(pooled(rows), 0.9)
    assert chosen.threshold <= 0.6
    assert "b" in chosen.per_category and chosen.per_category["b"] > 0.9
    mask = promise.auto_mask(np.array(["a", "b"], dtype=object), np.array([0.7, 0.7]),
                             chosen.threshold, chosen.per_category)
    assert mask.tolist() == [True, False]


def test_observed_reports_intervals() -> None:
    seen = promise.observed(["a", "a", "b", "b"], ["a", "b", "b", "b"],
                            np.array([0.9, 0.95, 0.2, 0.8]), 0.5, {})
    assert (seen["auto_routed"], seen["auto_routed_right"]) == (3, 2)
    assert seen["coverage"] == 0.75
    assert seen["auto_routed_accuracy"] == pytest.approx(0.6667, abs=1e-4)
    lo, hi = seen["auto_routed_accuracy_interval"]
    assert lo < 0.6667 < hi


def test_cross_validation_in_two_processes_gives_what_one_gives() -> None:
    """`hub train --jobs N` shares the fits between processes; every message still gets
    the prediction of the fold that held it out, whatever the number of processes: the
    fits are seeded (liblinear shuffles) and the workers cut no text themselves (a fresh
    worker's segmenter has not learnt the words the caller's has). Run in a process of
    its own: teaching the segmenter words would change how later tests cut text."""
    script = """
import numpy as np
from classifiers.text import add_words
from classifiers.train import (SEED_CORPUS, Columns, Extras, build_training_set,
                               cross_validate_runs, labelled)
texts, labels = labelled(SEED_CORPUS, Columns())
data = build_training_set(texts, labels, Extras(), Columns())
add_words(["路灯", "学校", "物业", "垃圾", "公交"])  # known here, not in a fresh worker
np.random.seed(1)  # whatever state NumPy's global generator is left in
alone = cross_validate_runs(data, folds=3, seeds=[0, 1], jobs=1)
np.random.seed(2)
shared = cross_validate_runs(data, folds=3, seeds=[0, 1], jobs=2)
assert len(alone) == len(shared) == 2
for (p1, c1), (p2, c2) in zip(alone, shared, strict=True):
    assert p1 == p2 and len(p1) == len(texts), [(a, b) for a, b in zip(p1, p2) if a != b]
    assert np.allclose(c1, c2, rtol=0, atol=1e-9) and (c1 > 0).all()
assert alone[0][0] != alone[1][0] or not np.allclose(alone[0][1], alone[1][1])
print("same")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=REPO_ROOT)
    assert out.returncode == 0 and out.stdout.split() == ["same"], out.stderr[-3000:]
