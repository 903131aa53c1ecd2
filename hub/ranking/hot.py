"""Hot issues (热点问题): many appeals about one matter in one place and time.

Appeals received in the period are grouped by county and category, then clustered
greedily: an appeal joins the first cluster holding a member (among its first
``LINK_MEMBERS``) whose character-bigram Jaccard similarity reaches ``SIMILARITY``.
Paraphrases of one matter share place names and key words, not sentences, hence
bigrams and a low threshold inside a county and category. A cluster of at least
``MIN_SIZE`` appeals is a hot issue, ranked by volume, then spread over channels,
then votes. Its label is made of words most of its appeals share, which keeps
names and phone numbers (particular to one appeal) out of the published report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.models import Appeal, Case
from hub.ranking.period import Period
from hub.textsim import jaccard, shingles

MIN_SIZE = 3
SIMILARITY = 0.18
LINK_MEMBERS = 20
MAX_APPEALS = 50_000  # per period; larger periods are sampled by the newest
TOP = 20


def _label_words(texts: list[str]) -> list[str]:
    from classifiers.text import tokens

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({t for t in tokens(text) if len(t) >= 2 and not t.isdigit()})
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
    groups: dict[tuple[str | None, str | None], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.county_code, row.category)].append(row)
    counties = {c.code: c.name for c in config.counties}
    issues = []
    for (county, category), members in groups.items():
        if len(members) < MIN_SIZE:
            continue
        clusters: list[tuple[list[frozenset[str]], list[Any]]] = []
        for row in members:
            grams = shingles(f"{row.title}{row.body[:300]}", n=2)
            for reps, items in clusters:
                if any(jaccard(rep, grams) >= SIMILARITY for rep in reps):
                    items.append(row)
                    if len(reps) < LINK_MEMBERS:
                        reps.append(grams)
                    break
            else:
                clusters.append(([grams], [row]))
        for _, items in clusters:
            if len(items) < MIN_SIZE:
                continue
            words = _label_words([f"{r.title} {r.body[:300]}" for r in items])
            issues.append({
                "county": counties.get(county or "", "全市"), "category": category or "未分类",
                "label": "、".join(words) or (category or "未分类"),
                "volume": len(items), "channels": len({r.source_id for r in items}),
                "votes": sum(r.votes or 0 for r in items),
                "first": min(r.received_at for r in items).isoformat(),
                "last": max(r.received_at for r in items).isoformat(),
                "cases": sorted(r.number for r in items)[:50],
            })
    issues.sort(key=lambda i: (-i["volume"], -i["channels"], -i["votes"], i["label"]))
    return issues[:TOP]
