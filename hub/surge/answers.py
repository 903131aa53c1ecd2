"""The prepared answer operators read to callers about a surge (直接答复).

Today it is the text kept on the surge, written by the hub when the surge is raised
and edited by a supervisor. The hub has no knowledge base (知识库) yet; when one is
built (e.g. ``hub/knowledge/``), it registers a resolver here. A surge whose
``article_ref`` names an article is then answered from that article, and the stored
text remains the fallback when the article is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.models import Surge

#: (session, article reference) -> the article's answer text, or None if unknown
ArticleResolver = Callable[[Session, str], "str | None"]
_resolvers: list[ArticleResolver] = []


def register_article_resolver(resolver: ArticleResolver) -> None:
    """For the knowledge base: answer surges that name one of its articles."""
    _resolvers.append(resolver)


@dataclass(frozen=True)
class PreparedAnswer:
    text: str
    source: str  # "surge" (the text kept on the surge) or "article" (knowledge base)
    article_ref: str | None = None


def prepared_answer(session: Session, surge: Surge) -> PreparedAnswer:
    if surge.article_ref:
        for resolve in _resolvers:
            text = resolve(session, surge.article_ref)
            if text:
                return PreparedAnswer(text, "article", surge.article_ref)
    return PreparedAnswer(surge.answer, "surge", surge.article_ref)


def default_answer(place: str, label: str, unit: str | None) -> str:
    """What the hub writes when it raises a surge, until a supervisor edits it."""
    return (f"您反映的{place}“{label}”问题已有多位市民反映，{unit or '相关部门'}正在统一处理。"
            "处理结果将在答复后通过您的工单编号和查询验证码公布，请留意查询。")
