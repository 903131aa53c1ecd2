"""Hot issues (热点问题): many appeals about one matter in one place and time.

The interface is one function, ``hot_issues(session, period, config)``: the report
needs nothing else. Which matter each appeal is about was decided when it arrived
(hub/topics.py: ``appeal.topic_id``, a topic of one county and category whose texts
overlap), so a report only aggregates: the period's appeals per topic, merged
duplicates left out (a duplicate counts once), topics of at least ``MIN_SIZE``
appeals ranked by volume, channels, votes, then first case number; the top ``TOP``
are labelled. A surge's callers (hub/surge/) are merged cases, so each surge is added
as an issue of its own.

Its label is made of words most of its appeals share, taken from text masked by
hub/privacy.py, never a person's name (the contact names of the topic's appeals,
and words the segmenter tags as names), never anything with a digit (phones, IDs,
house numbers), with ties broken by the word itself: the same appeals always give
the same label, whatever the process's hash seed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import CityConfig
from hub.labels import label_words
from hub.models import Appeal, Case, Topic
from hub.privacy import mask_text
from hub.ranking.period import Period
from hub.topics import TEXT_CHARS

MIN_SIZE = 3
TOP = 20


def hot_issues(session: Session, period: Period, config: CityConfig) -> list[dict[str, Any]]:
    from hub.surge.report import surge_issues

    issues = _describe(session, period, _topics(session, period), config)
    # a surge's callers are merged cases, left out above: each surge is an issue of its own
    issues += surge_issues(session, period, config)
    issues.sort(key=lambda i: (-i["volume"], -i["channels"], -i["votes"], i["label"],
                               i["cases"][:1]))
    return issues[:TOP]


def _in_period(period: Period) -> tuple[Any, ...]:
    return (Appeal.received_at >= period.start, Appeal.received_at < period.end,
            Appeal.topic_id.is_not(None), Case.state != "merged")


def _topics(session: Session, period: Period) -> list[Any]:
    """The period's ``TOP`` largest topics: one aggregate over the appeals' topic ids."""
    volume = func.count()
    channels = func.count(func.distinct(Appeal.source_id))
    votes = func.coalesce(func.sum(Appeal.votes), 0)
    first_number = func.min(Case.number)
    return list(session.execute(
        select(Appeal.topic_id, volume.label("volume"), channels.label("channels"),
               votes.label("votes"), func.min(Appeal.received_at).label("first"),
               func.max(Appeal.received_at).label("last"), first_number.label("number"))
        .join(Case, Case.appeal_id == Appeal.id).where(*_in_period(period))
        .group_by(Appeal.topic_id).having(volume >= MIN_SIZE)
        .order_by(volume.desc(), channels.desc(), votes.desc(), first_number)
        .limit(TOP)))


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


def _describe(session: Session, period: Period, topics: list[Any],
              config: CityConfig) -> list[dict[str, Any]]:
    """Each topic's county, category, label and case numbers, for the report."""
    counties = {c.code: c.name for c in config.counties}
    _teach_places(config)
    issues = []
    for t in topics:
        topic = session.get(Topic, t.topic_id)
        members = session.execute(
            select(Case.number, Appeal.title,
                   func.substr(Appeal.body, 1, TEXT_CHARS).label("body"), Appeal.contact_name)
            .join(Case, Case.appeal_id == Appeal.id)
            .where(Appeal.topic_id == t.topic_id, *_in_period(period))
            .order_by(Appeal.received_at.desc(), Appeal.id.desc()).limit(200)).all()
        words = label_words([f"{m.title} {m.body}" for m in members],
                            [m.contact_name for m in members])
        numbers = list(session.scalars(
            select(Case.number).join(Appeal, Appeal.id == Case.appeal_id)
            .where(Appeal.topic_id == t.topic_id, *_in_period(period))
            .order_by(Case.number).limit(50)))
        county, category = (topic.county_code, topic.category) if topic else (None, None)
        issues.append({
            "county": counties.get(county or "", "全市"), "category": category or "未分类",
            "label": mask_text("、".join(words)) or (category or "未分类"),
            "volume": int(t.volume), "channels": int(t.channels), "votes": int(t.votes),
            "first": _aware(t.first).isoformat(), "last": _aware(t.last).isoformat(),
            "cases": numbers,
        })
    return issues


def _aware(moment: datetime) -> datetime:
    """min()/max() of a timestamp come back naive from SQLite: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
