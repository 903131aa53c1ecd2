"""Hot issues (热点问题): many appeals about one matter in one place and time.

Appeals received in the period are linked when they share a county and category
and their character-bigram Jaccard similarity reaches ``SIMILARITY``; linked
appeals form clusters (union-find). Paraphrases of one matter share place names
and key words, not sentences, hence bigrams and a low threshold. Candidate pairs
come from MinHash LSH (32 bands of 2 rows: likely to meet at similarity 0.25,
unlikely at 0.05), so a month of appeals costs near-linear time, not all pairs.
A cluster of at least ``MIN_SIZE`` appeals is a hot issue, ranked by volume,
spread over channels, then votes. Its label is made of words most of its appeals
share, which keeps names and phone numbers out of the published report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.models import Appeal, Case
from hub.privacy import mask_text
from hub.ranking.period import Period
from hub.textsim import MinHasher, jaccard, shingles

MIN_SIZE = 3
SIMILARITY = 0.18
BANDS, ROWS = 32, 2
MAX_BUCKET = 200  # a band shared by hundreds of appeals is common wording, not a matter
_hasher = MinHasher(num_perm=BANDS * ROWS, seed=11)
MAX_APPEALS = 50_000  # per period; larger periods are sampled by the newest
TOP = 20


def _label_words(texts: list[str]) -> list[str]:
    from classifiers.text import tokens

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({t for t in tokens(text) if len(t) >= 2 and not t.isdigit()
                       and not any(c in t for c in "*@")})
    needed = max(2, (len(texts) + 1) // 2)
    return [w for w, n in counts.most_common(12) if n >= needed][:4]


def hot_issues(session: Session, period: Period, config: CityConfig) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Case.number, Case.county_code, Case.category, Appeal.title, Appeal.body,
               Appeal.source_id, Appeal.votes, Appeal.received_at)
        .join(Appeal, Appeal.id == Case.appeal_id)
        .where(Appeal.received_at >= period.start, Appeal.received_at < period.end,
               Case.state != "merged")
        .order_by(Appeal.received_at.desc()).limit(MAX_APPEALS))
    rows = list(rows)
    grams = [shingles(f"{r.title}{r.body[:300]}", n=2) for r in rows]
    buckets: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        sig = _hasher.signature(grams[i])
        for b in range(BANDS):
            buckets[(row.county_code, row.category, b, sig[b * ROWS:(b + 1) * ROWS])].append(i)
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) < 2 or len(members) > MAX_BUCKET:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if (a, b) in checked or root(a) == root(b):
                    continue
                checked.add((a, b))
                if jaccard(grams[a], grams[b]) >= SIMILARITY:
                    parent[root(a)] = root(b)
    clusters: dict[int, list[Any]] = defaultdict(list)
    for i, row in enumerate(rows):
        clusters[root(i)].append(row)
    counties = {c.code: c.name for c in config.counties}
    issues = []
    for items in clusters.values():
        if len(items) < MIN_SIZE:
            continue
        # masked first (hub/privacy.py): a phone, e-mail or self-introduced name that
        # one citizen repeated in every appeal must not become the published label
        words = _label_words([mask_text(f"{r.title} {r.body[:300]}") for r in items[:200]])
        county, category = items[0].county_code, items[0].category
        issues.append({
            "county": counties.get(county or "", "全市"), "category": category or "未分类",
            "label": mask_text("、".join(words)) or (category or "未分类"),
            "volume": len(items), "channels": len({r.source_id for r in items}),
            "votes": sum(r.votes or 0 for r in items),
            "first": min(r.received_at for r in items).isoformat(),
            "last": max(r.received_at for r in items).isoformat(),
            "cases": sorted(r.number for r in items)[:50],
        })
    from hub.surge.report import surge_issues

    # a surge's callers are merged cases, left out above: each surge is an issue of its own
    issues += surge_issues(session, period, config)
    issues.sort(key=lambda i: (-i["volume"], -i["channels"], -i["votes"], i["label"]))
    return issues[:TOP]
