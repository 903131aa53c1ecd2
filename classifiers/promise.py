"""The router's promise to dispatchers: a threshold that holds on messages never seen.

Choosing the threshold at the lowest confidence whose cross-validated auto-routed
slice is ``target`` right promised 90 % and delivered 86.6 % on 1,885 unseen
messages: the point estimate from 300 messages is as often too high as too low, and
the model's knobs had been chosen on the same 300. So:

- the model's choices are fixed beforehand (``classifiers.model.Params`` defaults:
  nothing here tunes them);
- confidences come from *repeated* stratified cross-validation (``REPEATS`` shuffles
  of 5 folds), pooled, so one lucky split does not set the threshold;
- the threshold is the lowest at which the **one-sided lower confidence bound**
  (Wilson, ``LEVEL``) of the auto-routed accuracy reaches the target, with the
  number of *distinct* messages behind it as the sample size (repeats of one
  message are not independent evidence);
- a predicted category clearly harder than the rest (even the upper end of its 95 %
  interval at the global threshold is below the target) gets a higher threshold of its
  own: the lowest at which its own auto-routed slice reaches the target, else 1.0
  (always to a dispatcher). A lower bound per category would be the wrong test: with
  twenty-odd auto-routed messages of a category, even twenty right out of twenty has
  a lower bound under 90 %, and every category would lose its automatic dispatch.

The report states the accuracy and coverage to expect with two-sided 95 % intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REPEATS = 3
LEVEL_Z = 1.645  # one-sided 95 % lower bound
INTERVAL_Z = 1.96  # two-sided 95 % interval, for the report
MIN_CLASS_AUTO = 15  # fewer auto-routed of a category: its interval says little
GRID = np.round(np.arange(0.0, 1.0, 0.01), 2)


def wilson(successes: float, n: float, z: float = INTERVAL_Z) -> tuple[float, float]:
    """Wilson score interval for a proportion (sound at small n and near 0 or 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - margin) / denom), min(1.0, (centre + margin) / denom)


def lower_bound(successes: float, n: float) -> float:
    return wilson(successes, n, LEVEL_Z)[0]


@dataclass
class Pooled:
    """Out-of-fold predictions of several shuffles, for one set of labelled messages."""

    truth: np.ndarray  # (repeats, n) labels
    predicted: np.ndarray  # (repeats, n)
    confidence: np.ndarray  # (repeats, n)

    @property
    def repeats(self) -> int:
        return int(self.truth.shape[0])

    @property
    def size(self) -> int:
        return int(self.truth.shape[1])

    def slice_at(self, threshold: float, category: str | None = None) -> tuple[float, float]:
        """(right, auto-routed), each per distinct message (averaged over repeats)."""
        auto = self.confidence >= threshold
        if category is not None:
            auto &= self.predicted == category
        right = auto & (self.truth == self.predicted)
        return right.sum() / self.repeats, auto.sum() / self.repeats


@dataclass
class Promise:
    threshold: float
    per_category: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def choose(pooled: Pooled, target: float, min_share: float = 0.05) -> Promise:
    """The lowest threshold whose auto-routed accuracy is at least ``target`` at the
    lower confidence bound; a clearly harder category's own threshold on top."""
    threshold = 0.99
    for t in GRID:
        right, auto = pooled.slice_at(float(t))
        if auto >= max(5, min_share * pooled.size) and lower_bound(right, auto) >= target:
            threshold = float(t)
            break
    per_category: dict[str, float] = {}
    for category in sorted(set(pooled.predicted.ravel().tolist())):
        right, auto = pooled.slice_at(threshold, category)
        if auto < MIN_CLASS_AUTO or wilson(right, auto)[1] >= target:
            continue
        own = 1.0  # never automatic, unless some threshold makes it right enough
        for t in GRID[GRID > threshold]:
            r, a = pooled.slice_at(float(t), category)
            if a >= 5 and r / a >= target:
                own = float(t)
                break
        per_category[category] = own
    return Promise(threshold, per_category, expectation(pooled, threshold, per_category,
                                                        target))


def auto_mask(predicted: np.ndarray, confidence: np.ndarray, threshold: float,
              per_category: dict[str, float]) -> np.ndarray:
    """Which predictions go out automatically under these thresholds."""
    limits = np.array([per_category.get(str(p), threshold) for p in predicted.ravel()],
                      dtype=float).reshape(predicted.shape)
    return confidence >= limits


def expectation(pooled: Pooled, threshold: float, per_category: dict[str, float],
                target: float) -> dict[str, Any]:
    """What to expect on new messages from this source, with 95 % intervals."""
    auto = auto_mask(pooled.predicted, pooled.confidence, threshold, per_category)
    right = float((auto & (pooled.truth == pooled.predicted)).sum() / pooled.repeats)
    routed = float(auto.sum() / pooled.repeats)
    acc_lo, acc_hi = wilson(right, routed)
    cov_lo, cov_hi = wilson(routed, pooled.size)
    return {
        "protocol": f"{pooled.repeats}x stratified 5-fold CV, model choices fixed; "
                    f"threshold at the one-sided 95% Wilson lower bound >= {target:.0%}",
        "target_accuracy": target,
        "threshold": threshold,
        "per_category_thresholds": per_category,
        "auto_routed_accuracy": round(right / routed, 4) if routed else None,
        "auto_routed_accuracy_interval": [round(acc_lo, 4), round(acc_hi, 4)],
        "auto_routed_accuracy_lower_bound": round(lower_bound(right, routed), 4),
        "coverage": round(routed / pooled.size, 4) if pooled.size else 0.0,
        "coverage_interval": [round(cov_lo, 4), round(cov_hi, 4)],
        "messages": pooled.size,
    }


def observed(truth: list[str], predicted: list[str], confidence: np.ndarray,
             threshold: float, per_category: dict[str, float]) -> dict[str, Any]:
    """Coverage and auto-routed accuracy on a labelled set, with 95 % intervals
    (``hub evaluate``)."""
    pred = np.array(predicted, dtype=object)
    auto = auto_mask(pred, np.asarray(confidence), threshold, per_category)
    right = int((auto & (np.array(truth, dtype=object) == pred)).sum())
    routed, n = int(auto.sum()), len(truth)
    return {"threshold": threshold, "per_category_thresholds": per_category,
            "auto_routed": routed, "auto_routed_right": right,
            "coverage": round(routed / n, 4) if n else 0.0,
            "coverage_interval": [round(x, 4) for x in wilson(routed, n)],
            "auto_routed_accuracy": round(right / routed, 4) if routed else None,
            "auto_routed_accuracy_interval": [round(x, 4) for x in wilson(right, routed)]}
