"""直接答复: an operator answers a caller from a knowledge-base article, on the call.

One transaction: the appeal is stored (already handled: the pipeline never routes it),
its case is opened and answered with the article (resolution 已解释说明, the article
named on the history), so the caller gets a number and query code like any other
and a call-back is due like after any other reply. No unit is charged: the case has
none, so rankings leave it out of every unit's figures and count it apart
(直接答复, hub/ranking/metrics.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.intake_schema import AppealIn
from hub.lifecycle import callbacks
from hub.lifecycle.service import CaseError, CaseService, NotFound
from hub.models import Appeal, Article, Case, Reply, utcnow
from hub.queue import enqueue

RESOLUTION = "已解释说明"


def answer_directly(svc: CaseService, session: Session, source_id: int, item: AppealIn,
                    article_id: int, actor: str, now: datetime | None = None) -> Case:
    now = now or utcnow()
    article = session.get(Article, article_id)
    today = now.astimezone(svc.calendar.tz).date()
    if article is None:
        raise NotFound("找不到所选的知识")
    if (article.valid_from and article.valid_from > today) or (
            article.valid_to and article.valid_to < today):
        raise CaseError("所选知识不在有效期内，不能用于直接答复")
    [queued] = enqueue(session, source_id, [item])
    if not queued.created:
        raise CaseError("这通来电已经登记过了")
    appeal = session.get(Appeal, queued.id)
    assert appeal is not None
    appeal.state = "done"  # handled on the call: nothing for the pipeline to route
    session.flush()
    decision = RouteDecision(article.category, None, None, 1.0, True, [])
    case = svc.open_case(session, appeal, decision, actor=actor, now=now)
    answered = svc._move(session, case, "answer_directly", actor, now=now,
                         note=f"【{RESOLUTION}】依据知识《{article.title}》直接答复"[:200],
                         first_reply_at=now, **callbacks.on_reply(svc, case, now))
    session.add(Reply(case_id=case.id, unit_id=None, author=actor, body=article.body, at=now,
                      resolution=RESOLUTION))
    return answered
