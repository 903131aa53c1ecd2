"""The learning loop: retrain with the dispatchers' corrections, and replace the
model only if the new one does at least as well on a held-back slice.

The slice is every fifth correction by a stable hash of its text: neither model
has seen those, so the comparison is fair. The training file the current model
came from (recorded in its metadata) supplies the rest; corrections of the same
text override its label. Closed cases the router sent right (automatic, never moved
or returned, category unchanged: ``hub.dispatch_quality.confirmed``) join the
training too: corrections alone are a biased sample of the model's mistakes. Returns
(退回) say which unit was wrong, not which category is right, so they are kept for
dispatchers to review, not trained on.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from classifiers.model import CategoryClassifier
from classifiers.train import SEED_CORPUS, Columns, Extras, build_training_set, labelled, metrics
from hub.core import Hub
from hub.models import RoutingLabel, utcnow

log = logging.getLogger(__name__)
MIN_HELD = 3


def held_back(text: str) -> bool:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 5 == 0


def _score(model: CategoryClassifier, texts: list[str], labels: list[str]) -> dict[str, Any]:
    top = model.top(texts, k=1)
    predicted = [t[0][0] for t in top]
    import numpy as np

    report = metrics(labels, predicted, np.array([t[0][1] for t in top]),
                     float(model.meta.get("threshold", 0.5)))
    return {k: report[k] for k in ("n", "accuracy", "macro_f1")}


def retrain(hub: Hub) -> dict[str, Any]:
    path = hub.settings.resolved_model_path
    if not path.exists():
        return {"replaced": False, "reason": "no model yet"}
    current = CategoryClassifier.load(path)
    source = current.meta.get("source") or {"file": str(SEED_CORPUS), "extras": False}
    train_file = Path(source["file"])
    if not train_file.exists():
        return {"replaced": False, "reason": f"training file {train_file} is gone"}
    classes = set(current.meta.get("classes") or [])
    with hub.sessions() as s:
        rows = list(s.execute(select(RoutingLabel.id, RoutingLabel.text, RoutingLabel.category)
                              .where(RoutingLabel.origin == "correction",
                                     RoutingLabel.category.is_not(None))
                              .order_by(RoutingLabel.id)))
    from hub.dispatch_quality import confirmed

    with hub.sessions() as s:
        confirmations = [(t, c) for t, c in confirmed(s)
                         if t.strip() and (not classes or c in classes)]
    corrections: dict[str, str] = {}
    for _, text, category in rows:
        if text.strip() and (not classes or category in classes):
            corrections[text] = category  # the latest correction of a text wins
    last_id = rows[-1][0] if rows else 0
    if last_id <= int(current.meta.get("labels_through", 0)):
        return {"replaced": False, "reason": "no new corrections"}
    held = [(t, c) for t, c in corrections.items() if held_back(t)]
    if len(held) < MIN_HELD:
        return {"replaced": False, "reason": f"only {len(held)} held-back corrections; "
                                             f"need {MIN_HELD}", "corrections": len(corrections)}
    cols = Columns(**source.get("columns", {}))
    texts, labels = labelled(train_file, cols)
    base = {t: lab for t, lab in zip(texts, labels, strict=True)}
    base.update({t: c for t, c in confirmations if not held_back(t)})
    base.update({t: c for t, c in corrections.items() if not held_back(t)})
    for t, _ in held:
        base.pop(t, None)
    extras = Extras.beside(train_file) if source.get("extras") else Extras()
    data = build_training_set(list(base), list(base.values()), extras, cols)
    candidate = CategoryClassifier(current.params).fit(data)
    candidate.meta.update({k: v for k, v in current.meta.items()
                           if k in ("threshold", "thresholds", "cv", "target_accuracy",
                                    "promise", "source", "seed")})
    held_texts, held_labels = [t for t, _ in held], [c for _, c in held]
    old, new = _score(current, held_texts, held_labels), _score(candidate, held_texts, held_labels)
    summary = {"corrections": len(corrections), "confirmed": len(confirmations),
               "held_back": len(held), "current": old,
               "candidate": new, "replaced": False}
    if (new["macro_f1"], new["accuracy"]) >= (old["macro_f1"], old["accuracy"]):
        candidate.meta.update(labels_through=last_id, retrained_at=utcnow().isoformat(),
                              held_back=new)
        candidate.save(path)
        summary["replaced"] = True
    else:
        summary["reason"] = "the candidate scored lower on the held-back corrections"
    summary.update(at=utcnow().isoformat(timespec="seconds"), current_version=current.version,
                   candidate_version=candidate.version)
    record(path, summary)
    log.info("router retrain: %s", summary)
    return summary


def summary_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".retrain.json")


def record(model_path: Path, summary: dict[str, Any]) -> None:
    """Keep the last comparison beside the model, for the admin page (atomic)."""
    import json

    target = summary_path(model_path)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(target)


def last_summary(model_path: Path) -> dict[str, Any] | None:
    import json

    try:
        return json.loads(summary_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
