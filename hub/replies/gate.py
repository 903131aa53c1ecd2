"""The reply-quality check on the way out: a unit's reply is checked against its
appeal and the unit's own recent replies; flagged, it goes out only with a reason
(``send_anyway``), and the reply keeps its flags for supervisors and rankings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.lifecycle.service import CaseError
from hub.models import Appeal, Case, Reply
from hub.replies.quality import Flag, check, content_of, shingles
from hub.textsim import jaccard

EARLIER = 300  # the unit's replies a new one is compared with (boilerplate)
UNEDITED = 0.9  # a reply this close to one of the unit's templates was not completed


class ReplyFlagged(CaseError):
    """The check found something; the unit may send anyway with a reason."""

    status, code = 422, "reply_flagged"

    def __init__(self, flags: list[Flag]) -> None:
        self.flags = flags
        super().__init__("答复质检提示：" + "；".join(f.text for f in flags)
                         + "。请修改后再提交；确需按原文发送，请填写“仍要发送的理由”。")


def _unedited(session: Session, case: Case, appeal: Appeal | None, body: str) -> list[Flag]:
    """A reply sent as one of the unit's templates left it (答复模板)."""
    from hub.models import utcnow
    from hub.replies.templates import fill, for_case

    sent = shingles(content_of(body))
    today = utcnow().date()
    for template in for_case(session, case.unit_id, case.category):
        filled = fill(template.body, case.number, today, appeal.contact_name if appeal else None)
        mine = shingles(content_of(filled))
        if jaccard(sent, mine) >= UNEDITED:
            return [Flag("unedited", f"答复与模板“{template.name}”几乎相同，请按本件的情况填写")]
    return []


def review(session: Session, case: Case, body: str, send_anyway: str) -> tuple[list[str], str]:
    """The flags' codes and the reason to keep with the reply; raises ReplyFlagged
    when there are flags and no reason."""
    appeal = session.get(Appeal, case.appeal_id)
    earlier = [shingles(content_of(text)) for text in session.scalars(
        select(Reply.body).where(Reply.unit_id == case.unit_id, Reply.case_id != case.id)
        .order_by(Reply.id.desc()).limit(EARLIER))]
    flags = check(appeal.title if appeal else "", appeal.body if appeal else "", body, earlier,
                  (appeal.contact_phone,) if appeal else ())
    flags += _unedited(session, case, appeal, body)
    reason = (send_anyway or "").strip()
    if flags and not reason:
        raise ReplyFlagged(flags)
    return [f.code for f in flags], reason if flags else ""
