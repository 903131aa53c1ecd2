"""Category lexicon: terms of the category tree (taxonomy) as strong priors.

A message that says 传销 or 特种设备 is about 商贸旅游 even if no labelled
example used the word; with only hundreds of labels these priors matter more
than anything else (see benchmarks/router.py for the cross-validated gain).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from classifiers.text import tokens

SKIP = {"其他"}


def from_taxonomy(path: Path) -> dict[str, list[str]]:
    """Read a taxonomy CSV (一级分类, 二级分类, 三级分类) into class -> distinctive terms.

    Each 2nd/3rd-level name counts whole and cut into words of two or more
    characters; a term shared by two first-level classes says nothing and is dropped.
    """
    terms: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            top = (row.get("一级分类") or "").strip()
            if not top:
                continue
            terms[top]  # noqa: B018 - make the class exist even if all its names are 其他
            for name in (row.get("二级分类"), row.get("三级分类")):
                name = (name or "").strip()
                if not name or name in SKIP:
                    continue
                terms[top].add(name)
                terms[top].update(w for w in tokens(name) if len(w) >= 2)
    shared = Counter(t for ts in terms.values() for t in ts)
    return {c: sorted(t for t in ts if shared[t] == 1) for c, ts in sorted(terms.items())}


def tree_rows(path: Path) -> list[tuple[str, str, str]]:
    """The taxonomy's rows as (一级, 二级, 三级), in file order."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [((r.get("一级分类") or "").strip(), (r.get("二级分类") or "").strip(),
                 (r.get("三级分类") or "").strip()) for r in csv.DictReader(fh)]


def features(texts: list[str], lexicon: dict[str, list[str]]) -> np.ndarray:
    """log(1 + number of a class's terms present), one column per lexicon class."""
    classes = sorted(lexicon)
    out = np.zeros((len(texts), len(classes)))
    for i, text in enumerate(texts):
        for j, cls in enumerate(classes):
            out[i, j] = sum(1 for term in lexicon[cls] if term in text)
    return np.log1p(out)
