"""Hot issues (热点问题): many appeals about one matter in one place and time.

The interface is one function, ``hot_issues(session, period, config)``: the report
needs nothing else. Inside, three steps:

1. ``_appeals``: the period's appeals (newest first, ties by id: a fixed order).
2. ``_clusters``: which appeals are about one matter. Today this is computed here:
   appeals sharing a county and category are linked when their character-bigram
   Jaccard similarity reaches ``SIMILARITY`` (paraphrases share place names and key
   words, not sentences); candidate pairs come from MinHash LSH, linked appeals form
   clusters (union-find). It is most of a ranking's cost, and is meant to give way to
   cluster ids assigned as appeals are processed; only this step changes then.
3. ``_describe``: a cluster of at least ``MIN_SIZE`` appeals becomes a hot issue,
   ranked by volume, channels, votes, then first case number; the top ``TOP`` are
   labelled.

Its label is made of words most of its appeals share, taken from text masked by
hub/privacy.py, never a person's name (the contact names of the cluster's appeals,
and words the segmenter tags as names), never anything with a digit (phones, IDs,
house numbers), with ties broken by the word itself: the same appeals always give
the same label, whatever the process's hash seed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.models import Appeal, Case
from hub.privacy import mask_text
from hub.ranking.period import Period

MIN_SIZE = 3
SIMILARITY = 0.18
BANDS, ROWS = 32, 2
MAX_BUCKET = 200  # a band shared by hundreds of appeals is common wording, not a matter
# multiply-shift hashing ((a*x + b) mod 2^64, top 32 bits): universal enough for
# MinHash, and no modulo per bigram and permutation
_rng = np.random.default_rng(11)
_A = (_rng.integers(1, 2**63, size=(BANDS * ROWS, 1), dtype=np.uint64) | np.uint64(1))
_B = _rng.integers(0, 2**63, size=(BANDS * ROWS, 1), dtype=np.uint64)
MAX_APPEALS = 50_000  # per period; larger periods are sampled by the newest
TEXT_CHARS = 300
TOP = 20
LABEL_WORDS = 4
# segmenter tags never used as label words: person names, numerals, pronouns, symbols
_NOT_LABELS = ("nr", "m", "r", "x", "q", "u", "p", "c", "w")
_DIGIT = re.compile(r"[0-9０-９]")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)  # as hub.textsim


def hot_issues(session: Session, period: Period, config: CityConfig) -> list[dict[str, Any]]:
    from hub.surge.report import surge_issues

    rows = _appeals(session, period)
    issues = _describe(rows, _clusters(rows), config)
    # a surge's callers are merged cases, left out above: each surge is an issue of its own
    issues += surge_issues(session, period, config)
    issues.sort(key=lambda i: (-i["volume"], -i["channels"], -i["votes"], i["label"],
                               i["cases"][:1]))
    return issues[:TOP]


_taught: set[str] = set()


def _teach_places(config: CityConfig) -> None:
    """Place and unit names as words (the router does the same), so a label says
    桂花坪街道, not a fragment of it. Only the segmenter that tags labels learns them:
    teaching the Python jieba would load its whole dictionary for nothing."""
    names = [n for c in config.counties for n in (c.name, *c.aliases, *c.towns)] + [
        u.name for u in config.units]
    try:
        import rjieba
    except ImportError:  # pragma: no cover - where rjieba's wheel is missing
        from classifiers.text import add_words

        add_words(names)
        return
    for name in names:
        if name and name not in _taught:
            rjieba.add_word(name, 20000, None)
            _taught.add(name)


def _appeals(session: Session, period: Period) -> list[Any]:
    return list(session.execute(
        select(Case.number, Case.county_code, Case.category, Appeal.title,
               func.substr(Appeal.body, 1, TEXT_CHARS).label("body"), Appeal.source_id,
               Appeal.votes, Appeal.received_at, Appeal.contact_name)
        .join(Appeal, Appeal.id == Case.appeal_id)
        .where(Appeal.received_at >= period.start, Appeal.received_at < period.end,
               Case.state != "merged")
        .order_by(Appeal.received_at.desc(), Appeal.id.desc()).limit(MAX_APPEALS)))


def _bigrams(text: str) -> np.ndarray:
    """A text's distinct character bigrams (punctuation and spaces dropped, as in
    hub.textsim.shingles) as sorted integers: code point pairs, exact and a tenth of
    the memory of strings."""
    clean = _NOISE.sub("", text)
    points = np.frombuffer(clean.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if points.size < 2:
        return points
    return np.unique(points[:-1] * np.uint64(0x110000) + points[1:])


def _signatures(grams: list[np.ndarray], chunk: int = 500) -> np.ndarray:
    """MinHash signatures of many texts at once: (len(grams), BANDS * ROWS)."""
    out = np.full((len(grams), BANDS * ROWS), (1 << 32) - 1, dtype=np.uint64)
    for first in range(0, len(grams), chunk):
        part = grams[first:first + chunk]
        sizes = np.array([g.size for g in part])
        if not sizes.sum():
            continue
        keys = np.concatenate(part)
        mixed = (_A * keys[None, :] + _B) >> np.uint64(32)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        filled = sizes > 0
        out[first:first + len(part)][filled] = np.minimum.reduceat(
            mixed, starts[filled], axis=1).T
    return out


def _similar(a: np.ndarray, b: np.ndarray) -> bool:
    if not a.size or not b.size:
        return False
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common) >= SIMILARITY


def _buckets(rows: list[Any], signatures: np.ndarray) -> Iterator[np.ndarray]:
    """Row indexes sharing a band's values, county and category: the candidate pairs'
    groups (LSH), found by sorting each band rather than in a dict of every key."""
    assert ROWS == 2  # two 32-bit values make one 64-bit band key
    places: dict[tuple[Any, Any], int] = {}
    gids = np.array([places.setdefault((r.county_code, r.category), len(places))
                     for r in rows], dtype=np.uint64)
    for b in range(BANDS):
        keys = (signatures[:, 2 * b] << np.uint64(32)) | signatures[:, 2 * b + 1]
        order = np.lexsort((keys, gids))  # stable: members stay in row order
        k, g = keys[order], gids[order]
        bounds = np.concatenate([[0], np.flatnonzero((k[1:] != k[:-1]) | (g[1:] != g[:-1]))
                                 + 1, [len(order)]])
        sizes = np.diff(bounds)
        for first, size in zip(bounds[:-1], sizes, strict=True):
            if 2 <= size <= MAX_BUCKET:
                yield order[first:first + size]


def _clusters(rows: list[Any]) -> list[list[int]]:
    """Indexes of ``rows`` grouped by matter, each group in row order."""
    if not rows:
        return []
    grams = [_bigrams(f"{r.title}{r.body[:TEXT_CHARS]}") for r in rows]
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    n = len(rows)
    checked: set[int] = set()  # a dissimilar pair may share several bands
    for members in _buckets(rows, _signatures(grams)):
        listed = members.tolist()
        for x in range(len(listed)):
            for y in range(x + 1, len(listed)):
                a, b = listed[x], listed[y]
                if a * n + b in checked or root(a) == root(b):
                    continue
                checked.add(a * n + b)
                if _similar(grams[a], grams[b]):
                    parent[root(a)] = root(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        groups[root(i)].append(i)
    return [g for g in groups.values() if len(g) >= MIN_SIZE]


def _describe(rows: list[Any], clusters: list[list[int]],
              config: CityConfig) -> list[dict[str, Any]]:
    """The ``TOP`` clusters by volume, channels, votes and first case number, labelled."""
    counties = {c.code: c.name for c in config.counties}
    _teach_places(config)

    def weight(group: list[int]) -> tuple[Any, ...]:
        items = [rows[i] for i in group]
        return (-len(items), -len({r.source_id for r in items}),
                -sum(r.votes or 0 for r in items), min(r.number for r in items))

    issues = []
    for group in sorted(clusters, key=weight)[:TOP]:
        items = [rows[i] for i in group]
        words = label_words([f"{r.title} {r.body[:TEXT_CHARS]}" for r in items[:200]],
                            [r.contact_name for r in items])
        county, category = items[0].county_code, items[0].category
        numbers = sorted(r.number for r in items)
        issues.append({
            "county": counties.get(county or "", "全市"), "category": category or "未分类",
            "label": mask_text("、".join(words)) or (category or "未分类"),
            "volume": len(items), "channels": len({r.source_id for r in items}),
            "votes": sum(r.votes or 0 for r in items),
            "first": min(r.received_at for r in items).isoformat(),
            "last": max(r.received_at for r in items).isoformat(),
            "cases": numbers[:50],
        })
    return issues


def _tagged(text: str) -> list[tuple[str, str]]:
    try:
        import rjieba

        return [(w, f) for w, f in rjieba.tag(text)]
    except ImportError:  # pragma: no cover - where rjieba's wheel is missing
        import jieba.posseg

        return [(p.word, p.flag) for p in jieba.posseg.lcut(text)]


def _is_name(word: str, names: list[str]) -> bool:
    return any(word in n or n in word or (len(n) >= 3 and word == n[1:]) for n in names)


def label_words(texts: Iterable[str], contact_names: Iterable[str | None] = ()) -> list[str]:
    """Up to four words shared by at least half (and two) of ``texts``: no personal
    data, no names, no numbers, and the same words for the same texts every time."""
    names = sorted({n.strip() for n in contact_names if n and len(n.strip()) >= 2})
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        total += 1
        counts.update({w for w, flag in _tagged(mask_text(text))
                       if len(w) >= 2 and not flag.startswith(_NOT_LABELS)
                       and not _DIGIT.search(w) and "*" not in w and "@" not in w
                       and not _is_name(w, names)})
    needed = max(2, (total + 1) // 2)
    ordered = sorted((w for w, n in counts.items() if n >= needed),
                     key=lambda w: (-counts[w], -len(w), w))
    return [mask_text(w) for w in ordered[:LABEL_WORDS]]
