"""Articles: saved with a revision each time (the history), found by the words a
caller uses, flagged to their owners once past their review date.

Search scores each article valid today by the caller's text's character bigrams
that occur in its title (counted three times) and body: a knowledge base holds
hundreds of articles, not millions, so a scan in Python beats another index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.lifecycle.service import CaseError, Conflict, NotFound
from hub.models import Article, ArticleRevision, Unit, utcnow

LIMITS = {"title": 200, "body": 20000}
NON_WORD = re.compile(r"[^\u4e00-\u9fa5A-Za-z0-9]+")
#: two-character pieces of how people ask, not of what they ask about
ASKING = frozenset({"怎么", "如何", "什么", "办理", "需要", "可以", "请问", "一下", "我的", "你们",
                    "哪里", "问题", "想问", "么办", "怎样", "咨询", "反映", "知道", "一个", "的话"})


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    category: str | None = None
    unit_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    review_on: date | None = None


def may_edit(role: str, staff_unit: int | None, article: Article | None) -> bool:
    """Admins edit every article; a unit's staff its own unit's (and create for it)."""
    if role == "admin":
        return True
    return role == "unit" and staff_unit is not None and (
        article is None or article.unit_id == staff_unit)


def save(session: Session, draft: Draft, actor: str, role: str, staff_unit: int | None,
         article_id: int | None = None, expected_version: int | None = None,
         categories: tuple[str, ...] = ()) -> Article:
    """Create or update an article and record the revision, in the caller's
    transaction; a unit's staff always save for their own unit."""
    title, body = draft.title.strip(), draft.body.strip()
    if not title or not body:
        raise CaseError("标题和内容都必须填写")
    for name, value in (("title", title), ("body", body)):
        if len(value) > LIMITS[name]:
            raise CaseError(f"{'标题' if name == 'title' else '内容'}最多 {LIMITS[name]} 字")
    if draft.category and categories and draft.category not in categories:
        raise CaseError(f"没有这个分类：{draft.category}")
    if draft.valid_from and draft.valid_to and draft.valid_to < draft.valid_from:
        raise CaseError("有效期的结束日期不能早于开始日期")
    article = session.get(Article, article_id) if article_id else None
    if article_id and article is None:
        raise NotFound("找不到这篇知识")
    if not may_edit(role, staff_unit, article):
        if article is not None:  # another unit's article: as if it did not exist
            raise NotFound("找不到这篇知识")
        raise CaseError("只有管理员和承办单位可以新建知识")
    unit_id = staff_unit if role == "unit" else (
        session.scalar(select(Unit.id).where(Unit.code == draft.unit_code))
        if draft.unit_code else None)
    if draft.unit_code and role == "admin" and unit_id is None:
        raise CaseError(f"没有这个单位：{draft.unit_code}")
    if article is None:
        article = Article(title=title, body=body, updated_by=actor, version=1)
        session.add(article)
    else:
        if expected_version is not None and expected_version != article.version:
            raise Conflict("这篇知识在您打开后已被修改，请刷新后重试")
        article.version += 1
    article.title, article.body, article.category = title, body, draft.category or None
    article.unit_id = unit_id if role == "admin" or article.unit_id is None else article.unit_id
    article.valid_from, article.valid_to = draft.valid_from, draft.valid_to
    article.review_on, article.updated_by, article.updated_at = draft.review_on, actor, utcnow()
    session.flush()
    session.add(ArticleRevision(article_id=article.id, version=article.version, title=title,
                                body=body, category=article.category,
                                valid_from=article.valid_from, valid_to=article.valid_to,
                                review_on=article.review_on, edited_by=actor))
    return article


def _valid(today: date) -> Any:
    return (or_(Article.valid_from.is_(None), Article.valid_from <= today),
            or_(Article.valid_to.is_(None), Article.valid_to >= today))


def _bigrams(text: str) -> set[str]:
    words = NON_WORD.sub(" ", text or "")
    return {w[i:i + 2] for w in words.split() for i in range(max(1, len(w) - 1))} - ASKING


def search(session: Session, text: str, today: date, limit: int = 5) -> list[dict[str, Any]]:
    """The articles valid today that best match ``text`` (a caller's account or a
    few words), best first; none when nothing shares two characters with it."""
    wanted = _bigrams(text[:2000])
    if not wanted:
        return []
    scored = []
    for article in session.scalars(select(Article).where(*_valid(today))):
        title, body = _bigrams(article.title), _bigrams(article.body)
        score = 3 * len(wanted & title) + len(wanted & body)
        if score >= 2:
            scored.append((score, article.id, article))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [{"id": a.id, "title": a.title, "body": a.body, "category": a.category,
             "score": score} for score, _, a in scored[:limit]]


def listing(session: Session, today: date, unit_id: int | None = None
            ) -> list[dict[str, Any]]:
    """Every article with its owner and whether it is past review or out of date."""
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    query = select(Article).order_by(Article.title)
    if unit_id is not None:
        query = query.where(Article.unit_id == unit_id)
    return [{"id": a.id, "title": a.title, "category": a.category,
             "unit": names.get(a.unit_id), "review_on": a.review_on,
             "stale": bool(a.review_on and a.review_on < today),
             "expired": bool(a.valid_to and a.valid_to < today),
             "updated_at": a.updated_at} for a in session.scalars(query)]


def history(session: Session, article_id: int) -> list[ArticleRevision]:
    return list(session.scalars(select(ArticleRevision)
                                .where(ArticleRevision.article_id == article_id)
                                .order_by(ArticleRevision.version.desc())))
