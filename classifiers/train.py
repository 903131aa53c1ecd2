"""Training data, cross-validation, threshold choice and evaluation.

The threshold below which a case goes to a dispatcher is chosen from repeated
cross-validation on the training file only, at a lower confidence bound of the
auto-routed accuracy (classifiers/promise.py says why and how).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from classifiers import lexicon as lex
from classifiers import promise
from classifiers.errors import DataError
from classifiers.model import CategoryClassifier, Params, TrainingSet
from classifiers.text import compose
from classifiers.weak_labels import label_from_reply

log = logging.getLogger(__name__)
SEED_CORPUS = Path(__file__).resolve().parent / "data" / "seed_corpus.csv"
SEED_LEXICON = Path(__file__).resolve().parent / "data" / "seed_taxonomy.csv"


@dataclass
class Columns:
    title: str = "留言主题"
    body: str = "留言详情"
    label: str = "一级分类"
    reply: str = "答复意见"


def read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def texts_of(rows: list[dict[str, str]], cols: Columns, path: Path) -> list[str]:
    if rows and cols.body not in rows[0]:
        raise DataError(f"{path}: no column {cols.body!r} (columns: {', '.join(rows[0])})")
    return [compose(r.get(cols.title) or "", r.get(cols.body) or "") for r in rows]


def labelled(path: Path, cols: Columns) -> tuple[list[str], list[str]]:
    rows = read_rows(path)
    if not rows:
        raise DataError(f"{path}: no rows")
    if cols.label not in rows[0]:
        raise DataError(f"{path}: no label column {cols.label!r} (columns: {', '.join(rows[0])})")
    keep = [r for r in rows if (r.get(cols.label) or "").strip()]
    return texts_of(keep, cols, path), [r[cols.label].strip() for r in keep]


@dataclass
class Extras:
    """Optional helpers found beside the training file or named by flags."""

    taxonomy: Path | None = None
    replies: list[Path] = field(default_factory=list)
    unlabelled: list[Path] = field(default_factory=list)

    @classmethod
    def beside(cls, train_file: Path) -> Extras:
        folder = train_file.parent
        found = cls()
        if (folder / "taxonomy.csv").exists():
            found.taxonomy = folder / "taxonomy.csv"
        if (folder / "messages_with_replies.csv").exists():
            found.replies.append(folder / "messages_with_replies.csv")
        if (folder / "messages_with_votes.csv").exists():
            found.unlabelled.append(folder / "messages_with_votes.csv")
        return found


def build_training_set(texts: list[str], labels: list[str], extras: Extras,
                       cols: Columns) -> TrainingSet:
    data = TrainingSet(texts=texts, labels=labels)
    classes = set(labels)
    taxonomy = extras.taxonomy or SEED_LEXICON
    data.lexicon = lex.from_taxonomy(taxonomy)
    data.tree = lex.tree_rows(taxonomy)
    for path in extras.replies:
        rows = read_rows(path)
        all_texts = texts_of(rows, cols, path)
        data.unlabelled += all_texts
        for text, row in zip(all_texts, rows, strict=True):
            weak = label_from_reply(row.get(cols.reply) or "")
            if weak in classes:
                data.weak_texts.append(text)
                data.weak_labels.append(weak)
    for path in extras.unlabelled:
        rows = read_rows(path)
        data.unlabelled += texts_of(rows, cols, path)
    return data


def metrics(truth: list[str], predicted: list[str], confidence: np.ndarray,
            threshold: float, per_category: dict[str, float] | None = None) -> dict[str, Any]:
    labels = sorted(set(truth) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels,
                                                 zero_division=0)
    auto = promise.auto_mask(np.array(predicted, dtype=object), np.asarray(confidence),
                             threshold, per_category or {})
    truth_a, pred_a = np.array(truth), np.array(predicted)
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=sorted(set(truth)),
                                         average="macro", zero_division=0)), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])}
                      for i, lab in enumerate(labels)},
        "threshold": round(threshold, 4),
        "auto_routed_share": round(float(auto.mean()), 4) if len(truth) else 0.0,
        "auto_routed_accuracy": round(float((truth_a[auto] == pred_a[auto]).mean()), 4)
        if auto.any() else None,
    }


def choose_threshold(truth: list[str], predicted: list[str], confidence: np.ndarray,
                     target_accuracy: float) -> float:
    """Lowest confidence whose auto-routed slice is at least ``target_accuracy`` right
    (the point estimate: the rule before classifiers/promise.py, kept to compare)."""
    right = np.array(truth) == np.array(predicted)
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        mask = confidence >= t
        if mask.sum() >= max(5, 0.05 * len(truth)) and right[mask].mean() >= target_accuracy:
            return float(t)
    return 0.99


def cross_validate(data: TrainingSet, folds: int = 5, params: Params | None = None,
                   seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Out-of-fold predictions and confidences for every labelled example."""
    return cross_validate_runs(data, folds, params, [seed])[0]


def cross_validate_runs(data: TrainingSet, folds: int = 5, params: Params | None = None,
                        seeds: list[int] | None = None, jobs: int = 1
                        ) -> list[tuple[list[str], np.ndarray]]:
    """Out-of-fold predictions and confidences for every labelled example, one run per
    shuffle seed. The folds are independent fits, so ``jobs`` processes share them
    (each fit is mostly single-threaded: two cores halve ``hub train``); the results do
    not depend on ``jobs``."""
    y = np.array(data.labels)
    folds = int(min(folds, np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        raise DataError("every category needs at least two examples to cross-validate")
    seeds = [0] if seeds is None else seeds
    tasks = [(run, train_idx, test_idx) for run, seed in enumerate(seeds)
             for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed)
             .split(data.texts, y)]
    # tokenise once, here: every process then reads the same cuts (and none re-cuts)
    tokenizer = CategoryClassifier(params)
    cache = {t: tokenizer._tokens(t) for t in
             {*data.texts, *data.weak_texts, *data.unlabelled}}
    jobs = max(1, min(jobs, len(tasks)))
    chunks = [tasks[i::jobs] for i in range(jobs)]
    if jobs == 1:
        done = [_run_folds(data, params, chunks[0], cache)]
    else:
        done = Parallel(n_jobs=jobs, backend="loky")(
            delayed(_run_folds)(data, params, chunk, cache) for chunk in chunks)
    predicted = np.empty((len(seeds), len(y)), dtype=object)
    confidence = np.zeros((len(seeds), len(y)))
    for results in done:
        for run, test_idx, labels, scores in results:
            predicted[run, test_idx] = labels
            confidence[run, test_idx] = scores
    return [([str(p) for p in predicted[r]], confidence[r]) for r in range(len(seeds))]


def _run_folds(data: TrainingSet, params: Params | None,
               tasks: list[tuple[int, np.ndarray, np.ndarray]], cache: dict[str, str]
               ) -> list[tuple[int, np.ndarray, list[str], list[float]]]:
    y = np.array(data.labels)
    out = []
    for run, train_idx, test_idx in tasks:
        fold = TrainingSet(
            texts=[data.texts[i] for i in train_idx], labels=list(y[train_idx]),
            weak_texts=data.weak_texts, weak_labels=data.weak_labels,
            unlabelled=data.unlabelled, lexicon=data.lexicon, weak_weight=data.weak_weight)
        model = CategoryClassifier(params).fit(fold, token_cache=cache)
        held_out = [data.texts[i] for i in test_idx]
        # cut by the caller's segmenter, never this process's: a worker's dictionary
        # may not have learnt the words the caller's had (add_words)
        top = [t[0] for t in model.top(held_out, k=1, tokens=[cache[t] for t in held_out])]
        out.append((run, test_idx, [c for c, _ in top], [p for _, p in top]))
    return out


def train(data: TrainingSet, target_accuracy: float = 0.9, folds: int = 5,
          params: Params | None = None, repeats: int = promise.REPEATS, jobs: int = 1
          ) -> tuple[CategoryClassifier, dict[str, Any]]:
    """Cross-validate ``repeats`` times (for the threshold and the report; the fits in
    ``jobs`` processes), then fit on everything. The report is the first shuffle's
    figures plus the promise."""
    runs = cross_validate_runs(data, folds, params, list(range(repeats)), jobs)
    pooled = promise.Pooled(np.array([data.labels] * repeats, dtype=object),
                            np.array([p for p, _ in runs], dtype=object),
                            np.array([c for _, c in runs]))
    chosen = promise.choose(pooled, target_accuracy)
    report = metrics(data.labels, runs[0][0], runs[0][1], chosen.threshold,
                     chosen.per_category)
    report["promise"] = chosen.report
    model = CategoryClassifier(params).fit(data)
    model.meta.update(threshold=chosen.threshold, thresholds=chosen.per_category, cv=report,
                      target_accuracy=target_accuracy, promise=chosen.report)
    return model, report


def evaluate(model: CategoryClassifier, texts: list[str], labels: list[str],
             threshold: float | None = None) -> dict[str, Any]:
    """Scores on a labelled file, and the promise checked: coverage and auto-routed
    accuracy at the model's thresholds with 95 % intervals, beside what was expected."""
    top = model.top(texts, k=1)
    predicted = [t[0][0] for t in top]
    confidence = np.array([t[0][1] for t in top])
    limit = float(model.meta.get("threshold", 0.5) if threshold is None else threshold)
    per_category = dict(model.meta.get("thresholds") or {}) if threshold is None else {}
    report = metrics(labels, predicted, confidence, limit, per_category)
    report["observed"] = promise.observed(labels, predicted, confidence, limit, per_category)
    report["expected"] = model.meta.get("promise")
    return report
