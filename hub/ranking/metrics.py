"""Per-unit figures for one period, from the event log as it stood then.

Every figure reads only events (and ratings, evaluations) timestamped before the
period's end, and each event carries the deadlines in force when it happened
(``CaseEvent.deadline_at``, ``sign_deadline_at``). Nothing is read from a case's
current state except to narrow the candidates, so re-running a closed period, or
re-marking an old case as 疑难件 later, gives the same numbers.

An obligation (应办之件) is one deadline a unit had to answer by: set when a case is
assigned (交办/改派), reopened (重办) or extended (延期). It falls due at its deadline
unless something replaced it first (another assignment, a return, an extension, a
reopening, a merge). Definitions, per unit and period:

- 应办结 (due): obligations that fell due in the period, plus earlier ones still
  unanswered and still with the unit when the period began (往期超期未答复). A
  case the unit returned after its deadline counts only if a dispatcher judged the
  return wrongful (sent it back to the unit) before the period ended.
- 按期答复 (answered on time): of 应办结, answered by the deadline.
- 已答复 / 已办结: of 应办结, answered / closed by the end of the period.
- 应签收 / 按时签收: assignments whose signing time limit ended in the period;
  signed or returned within it (a dispatcher moving the case first drops it).
- 交办, 签收, 答复, 办结, 退回, 重办: distinct cases with that event in the period.
- 错退 / 正确退回: returns a dispatcher judged in the period, by assigning the
  case back to the same unit (wrongful) or to another one (rightful).
- 答复用时: working days from the start of the obligation to each answer.
- ratings and QR evaluations given in the period; 解决率 from the ratings that
  answered 是否解决 (solved / asked), apart from 满意率; 未回访 (no call-back reached
  the citizen) counted apart, never as a rating.
Merged duplicates (合并) count nowhere.

A case's events are read in the order they were written (their ids), which is
their time order: the case service appends them as things happen. All of it is SQL
aggregation per unit; only reply times come to Python, as timestamps for a
vectorised working-day count.
- QR evaluations (扫码评议): flagged ones (possible vote-stuffing) count only once a
  supervisor accepted them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, text, union
from sqlalchemy.orm import Session, aliased

from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.evaluations import ASPECTS, counted
from hub.lifecycle.states import DEADLINE_SETTING, DEADLINE_SETTING_SQL, OPEN_WORK, OPEN_WORK_SQL
from hub.models import Case, CaseEvent, CoTask, Rating, Reply, UnitEvaluation
from hub.ranking.period import Period
from hub.ranking.workdays import workdays_between_many

START_ACTIONS = ("assign", "reassign")
OBLIGATION_STARTS = ("assign", "reassign", "reopen")
# events that replace an obligation: a new deadline, or the case leaves the unit
ENDING = (*DEADLINE_SETTING, "return", "merge", "conclude")  # conclude: 审核办结
# events that change a case's state or deadline (and carry the deadline snapshot)
STATE_ACTIONS = (*ENDING, "receive", "triage", "sign", "reply", "close")
# what answers an assignment's signing time limit, or takes the case away first
SIGN_RESPONSES = ("sign", "return", "assign", "reassign", "merge")


@dataclass
class UnitFigures:
    assigned: int = 0  # 交办
    signed: int = 0  # 签收
    replied: int = 0  # 答复 (cases answered in the period)
    closed: int = 0  # 办结 (cases closed in the period)
    returned: int = 0  # 退回
    wrongful_returns: int = 0  # 错退, judged in the period
    rightful_returns: int = 0  # 正确退回, judged in the period
    reopened: int = 0  # 重办
    sign_due: int = 0  # 应签收
    sign_on_time: int = 0  # 按时签收
    due: int = 0  # 应办结
    due_carried: int = 0  # of which 往期超期未答复
    due_replied: int = 0  # 已答复
    due_on_time: int = 0  # 按期答复
    due_closed: int = 0  # 已办结
    resolved: int = 0  # 解决: ratings that said the problem was solved
    resolution_asked: int = 0  # ratings that answered 是否解决
    callback_unreached: int = 0  # 未回访: replies whose citizen no call reached
    cohandle_due: int = 0  # 协办应回复: co-handling tasks whose deadline fell in the period
    cohandle_on_time: int = 0  # 协办按期回复: of those, answered by the deadline
    replies_flagged: int = 0  # 答复质检: replies sent despite the reply-quality check
    reply_days: list[float] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=lambda: {"满意": 0, "基本满意": 0, "不满意": 0})
    evaluations: dict[str, dict[str, int]] = field(default_factory=lambda: {
        k: {"满意": 0, "基本满意": 0, "不满意": 0} for k in ASPECTS})

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def satisfied(self) -> int:
        return self.ratings["满意"] + self.ratings["基本满意"]

    @property
    def late_open(self) -> int:
        """超期未答复 at the end of the period."""
        return self.due - self.due_replied

    @property
    def sample(self) -> int:
        """How much work the unit's rates rest on (the ranking threshold's measure)."""
        return max(self.assigned, self.due, self.sign_due)

    @property
    def idle(self) -> bool:
        """无交办: nothing given to, due from or answered by the unit this period."""
        return not (self.assigned or self.due or self.sign_due or self.replied or self.rated)

    def reply_median(self) -> float | None:
        return round(statistics.median(self.reply_days), 3) if self.reply_days else None

    def reply_p90(self) -> float | None:
        if not self.reply_days:
            return None
        ordered = sorted(self.reply_days)
        return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3)

    def add(self, other: UnitFigures) -> None:
        """Fold another unit's figures in (a county and its departments)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
        self.reply_days = self.reply_days + other.reply_days
        for grade, n in other.ratings.items():
            self.ratings[grade] += n
        for aspect, grades in other.evaluations.items():
            for grade, n in grades.items():
                self.evaluations[aspect][grade] += n


@dataclass
class PeriodFigures:
    units: dict[int, UnitFigures]
    received: int  # 受理: cases received in the period (merged duplicates not counted)
    direct_answered: int = 0  # 直接答复: of all cases, answered on the call (no unit)


def collect(session: Session, period: Period, calendar: WorkCalendar) -> PeriodFigures:
    figures: dict[int, UnitFigures] = defaultdict(UnitFigures)
    merged = _merged(period)
    _event_counts(session, period, merged, figures)
    _due(session, period, merged, figures)
    _signing(session, period, merged, figures)
    _judged_returns(session, period, merged, figures)
    _cohandling(session, period, merged, figures)
    for unit_id, n in session.execute(
            select(Reply.unit_id, func.count()).where(
                _in(period, Reply.at), Reply.quality_override.is_not(None),
                Reply.unit_id.is_not(None), Reply.case_id.not_in(merged))
            .group_by(Reply.unit_id)):
        figures[unit_id].replies_flagged += n
    _reply_times(session, period, merged, calendar, figures)
    for unit_id, grade, n in session.execute(
            select(Rating.unit_id, Rating.grade, func.count()).where(_in(period, Rating.at))
            .group_by(Rating.unit_id, Rating.grade)):
        if unit_id is not None and grade in figures[unit_id].ratings:
            figures[unit_id].ratings[grade] += n
    # 解决率: of the ratings that answered 是否解决, those that said solved
    for unit_id, asked, solved in session.execute(
            select(Rating.unit_id, func.count(Rating.solved),
                   func.sum(case((Rating.solved.is_(True), 1), else_=0)))
            .where(_in(period, Rating.at), Rating.solved.is_not(None))
            .group_by(Rating.unit_id)):
        if unit_id is not None:
            figures[unit_id].resolution_asked += asked
            figures[unit_id].resolved += solved or 0
    for aspect in ASPECTS:
        column = getattr(UnitEvaluation, aspect)
        for unit_id, grade, n in session.execute(
                select(UnitEvaluation.unit_id, column, func.count())
                .where(_in(period, UnitEvaluation.at), counted())
                .group_by(UnitEvaluation.unit_id, column)):
            if grade in figures[unit_id].evaluations[aspect]:
                figures[unit_id].evaluations[aspect][grade] += n
    received = session.scalar(
        select(func.count(func.distinct(CaseEvent.case_id)))
        .where(_in(period, CaseEvent.at), CaseEvent.action == "receive",
               CaseEvent.case_id.not_in(merged))) or 0
    direct = session.scalar(
        select(func.count(func.distinct(CaseEvent.case_id)))
        .where(_in(period, CaseEvent.at), CaseEvent.action == "answer_directly")) or 0
    return PeriodFigures(dict(figures), int(received), int(direct))


def _in(period: Period, column: Any) -> Any:
    return and_(column >= period.start, column < period.end)


def _merged(period: Period) -> Any:
    """Cases merged into another before the period ended: duplicates count nowhere.
    (A merge is final, so they are among the cases merged now: a short list.)"""
    m = aliased(CaseEvent, name="m")
    return select(Case.id).where(Case.state == "merged", exists().where(
        m.case_id == Case.id, m.action == "merge", m.to_state == "merged", m.at < period.end))


def _event_counts(session: Session, period: Period, merged: Any,
                  figures: dict[int, UnitFigures]) -> None:
    names = {"assign": "assigned", "reassign": "assigned", "sign": "signed",
             "reply": "replied", "close": "closed", "return": "returned", "reopen": "reopened",
             "callback_unreached": "callback_unreached"}
    action = case((CaseEvent.action == "reassign", literal("assign")), else_=CaseEvent.action)
    rows = session.execute(
        select(CaseEvent.unit_id, action, func.count(func.distinct(CaseEvent.case_id)))
        .where(_in(period, CaseEvent.at), CaseEvent.action.in_(list(names)),
               CaseEvent.unit_id.is_not(None), CaseEvent.case_id.not_in(merged))
        .group_by(CaseEvent.unit_id, action))
    for unit_id, name, n in rows:  # a case assigned and reassigned to one unit counts once
        setattr(figures[unit_id], names[name], n)


def _next_ending(event: Any) -> Any:
    """The id of the first event after ``event`` that replaced its obligation."""
    x = aliased(CaseEvent, name="x")
    # (the event a merge leaves on the case kept is a note, not an ending)
    return (select(func.min(x.id)).where(x.case_id == event.case_id, x.id > event.id,
                                         x.action.in_(ENDING),
                                         or_(x.action != "merge", x.to_state == "merged"))
            .scalar_subquery())


def _continues_late_return(event: Any) -> Any:
    """An assignment back from ``returned`` with a deadline that had already passed
    when the case was returned: a 错退 ruling restores the running clock
    (hub/lifecycle/arbitration.py), and that obligation was already counted, as
    late, for the return (``_aggregate_due``), so it is not counted twice."""
    x = aliased(CaseEvent, name="rx")
    return_at = (select(x.at).where(x.case_id == event.case_id, x.id < event.id,
                                    x.action == "return")
                 .order_by(x.id.desc()).limit(1).scalar_subquery())
    return and_(event.from_state == "returned", event.deadline_at < return_at)


def _due(session: Session, period: Period, merged: Any,
         figures: dict[int, UnitFigures]) -> None:
    """应办结 with 已答复, 按期答复 and 已办结, per unit, in two aggregate queries."""
    e = aliased(CaseEvent, name="e")
    falling = (select(e.id.label("eid"), e.case_id, e.unit_id, e.deadline_at.label("due"),
                      literal(0).label("carried"), _next_ending(e).label("next_id"))
               .where(e.deadline_at >= period.start, e.deadline_at < period.end,
                      text(f"e.{DEADLINE_SETTING_SQL}"),  # (set before it, so before the end)
                      e.unit_id.is_not(None), e.case_id.not_in(merged),
                      ~_continues_late_return(e)))
    # carried over: open and past its deadline when the period began. The case's last
    # state-changing event before the start says so. Candidates: cases open now and
    # past that deadline, and cases changed since the start (every change to a case
    # moves its updated_at; a case not changed since is as it was then)
    candidates = union(
        select(Case.id.label("case_id")).where(text(f"work_order.{OPEN_WORK_SQL}"),
                                               Case.deadline_at < period.start),
        select(Case.id).where(Case.updated_at >= period.start,
                              Case.created_at < period.start)).subquery("candidates")
    y = aliased(CaseEvent, name="y")
    last = (select(candidates.c.case_id,
                   select(func.max(y.id)).where(y.case_id == candidates.c.case_id,
                                                y.at < period.start,
                                                y.action.in_(STATE_ACTIONS))
                   .scalar_subquery().label("last_id"))).subquery("last")
    s = aliased(CaseEvent, name="s")
    carried = (select(s.id.label("eid"), s.case_id, s.unit_id, s.deadline_at.label("due"),
                      literal(1).label("carried"), _next_ending(s).label("next_id"))
               .join(last, last.c.last_id == s.id)
               .where(s.to_state.in_(OPEN_WORK), s.deadline_at < period.start,
                      s.unit_id.is_not(None), s.case_id.not_in(merged)))
    for part in (falling, carried):
        _aggregate_due(session, period, _followed(part, "next_id", "d"), figures)


def _followed(query: Any, column: str, name: str) -> Any:
    """``query`` with the time and action of the event its ``column`` names, looked up
    by primary key (a join on a computed id makes PostgreSQL hash the whole table)."""
    # OFFSET 0 keeps both planners from folding the subquery into the outer one and
    # repeating its correlated lookups for every expression that uses them
    inner = query.offset(0).subquery(f"{name}_inner")
    x = aliased(CaseEvent, name=f"{name}_x")
    return select(inner, select(x.at).where(x.id == inner.c[column])
                  .scalar_subquery().label("next_at"),
                  select(x.action).where(x.id == inner.c[column])
                  .scalar_subquery().label("next_action")).subquery(name)


def _aggregate_due(session: Session, period: Period, d: Any,
                   figures: dict[int, UnitFigures]) -> None:
    r = aliased(CaseEvent, name="r")
    c = aliased(CaseEvent, name="c")
    j = aliased(CaseEvent, name="j")
    end = period.end
    on_time = exists().where(r.case_id == d.c.case_id, r.action == "reply", r.id > d.c.eid,
                             r.at <= d.c.due)
    unreplaced = d.c.next_id.is_(None)
    replied = exists().where(r.case_id == d.c.case_id, r.action == "reply", r.id > d.c.eid,
                             r.at < end, or_(unreplaced, r.id < d.c.next_id))
    closed = and_(exists().where(c.case_id == d.c.case_id, c.action == "close",
                                 c.id > d.c.eid, c.at < end),
                  or_(unreplaced, d.c.next_at >= end))
    # returned after the deadline: the unit's only if a dispatcher sent it back to the
    # same unit (a wrongful return) before the period ended; a rightful return, or one
    # not judged yet, does not count against it
    k = aliased(CaseEvent, name="k")
    judgment = (select(func.min(k.id)).where(
        k.case_id == d.c.case_id, k.id > d.c.next_id, k.action == "assign",
        k.from_state == "returned").correlate(d).scalar_subquery())
    rightful = and_(d.c.next_action == "return", ~exists().where(
        j.id == judgment, j.at < end, j.unit_id == d.c.unit_id).correlate(d))

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(
        select(d.c.unit_id, func.count(), flag(d.c.carried == 1), flag(on_time), flag(replied),
               flag(closed))
        # an obligation replaced before its deadline never fell due
        .where(or_(unreplaced, d.c.next_at > d.c.due), or_(unreplaced, ~rightful))
        .group_by(d.c.unit_id))
    for unit_id, due, carried, timely, answered, done in rows:
        f = figures[unit_id]
        f.due += due
        f.due_carried += carried or 0
        f.due_on_time += timely or 0
        f.due_replied += answered or 0
        f.due_closed += done or 0


def _signing(session: Session, period: Period, merged: Any,
             figures: dict[int, UnitFigures]) -> None:
    """签收及时率: assignments whose signing limit ended in the period."""
    a = aliased(CaseEvent, name="a")
    x = aliased(CaseEvent, name="x")
    first = (select(func.min(x.id)).where(x.case_id == a.case_id, x.id > a.id,
                                          x.action.in_(SIGN_RESPONSES)).scalar_subquery())
    items = _followed(
        select(a.unit_id, a.sign_deadline_at.label("limit"), first.label("resp_id"))
        .where(a.sign_deadline_at >= period.start, a.sign_deadline_at < period.end,
               a.unit_id.is_not(None), a.case_id.not_in(merged)),
        "resp_id", "i")
    in_time = and_(items.c.resp_id.is_not(None), items.c.next_at <= items.c.limit)
    taken = and_(in_time, items.c.next_action.in_(("assign", "reassign", "merge")))
    answered = and_(in_time, items.c.next_action.in_(("sign", "return")))
    rows = session.execute(
        select(items.c.unit_id, func.count(), func.sum(case((answered, 1), else_=0)))
        .where(~taken).group_by(items.c.unit_id))
    for unit_id, due, timely in rows:
        figures[unit_id].sign_due += due
        figures[unit_id].sign_on_time += timely or 0


def _judged_returns(session: Session, period: Period, merged: Any,
                    figures: dict[int, UnitFigures]) -> None:
    """A dispatcher's next assignment after a return judges it: back to the same unit
    is 错退 (wrongful), to another unit 正确退回 (rightful)."""
    j = aliased(CaseEvent, name="j")
    x = aliased(CaseEvent, name="x")
    ret = aliased(CaseEvent, name="ret")
    returned = (select(func.max(x.id)).where(x.case_id == j.case_id, x.id < j.id,
                                             x.action == "return").scalar_subquery())
    judged = (select(j.unit_id.label("to_unit"), returned.label("ret_id"))
              .where(_in(period, j.at), j.action == "assign", j.from_state == "returned",
                     j.case_id.not_in(merged)).subquery("judged"))
    wrongful = ret.unit_id == judged.c.to_unit
    for unit_id, bad, good in session.execute(
            select(ret.unit_id, func.sum(case((wrongful, 1), else_=0)),
                   func.sum(case((wrongful, 0), else_=1)))
            .select_from(judged).join(ret, ret.id == judged.c.ret_id)
            .where(ret.unit_id.is_not(None))
            .group_by(ret.unit_id)):
        figures[unit_id].wrongful_returns += bad or 0
        figures[unit_id].rightful_returns += good or 0


def _cohandling(session: Session, period: Period, merged: Any,
                figures: dict[int, UnitFigures]) -> None:
    """协办: each co-handling unit's tasks due in the period and those answered in time
    (hub/lifecycle/cohandling.py); the lead unit's work is counted on the case."""
    in_time = and_(CoTask.answered_at.is_not(None), CoTask.answered_at <= CoTask.deadline_at)
    for unit_id, due, timely in session.execute(
            select(CoTask.unit_id, func.count(), func.sum(case((in_time, 1), else_=0)))
            .where(_in(period, CoTask.deadline_at), CoTask.case_id.not_in(merged))
            .group_by(CoTask.unit_id)):
        figures[unit_id].cohandle_due += due
        figures[unit_id].cohandle_on_time += timely or 0


def _reply_times(session: Session, period: Period, merged: Any, calendar: WorkCalendar,
                 figures: dict[int, UnitFigures]) -> None:
    reply = aliased(CaseEvent, name="reply")
    x = aliased(CaseEvent, name="x")
    began = (select(func.max(x.at)).where(x.case_id == reply.case_id, x.id < reply.id,
                                          x.action.in_(OBLIGATION_STARTS)).scalar_subquery())
    rows = session.execute(
        select(reply.unit_id, began, reply.at)
        .where(_in(period, reply.at), reply.action == "reply", reply.unit_id.is_not(None),
               reply.case_id.not_in(merged))
        .order_by(reply.id)).all()
    rows = [r for r in rows if r[1] is not None]
    days = workdays_between_many(calendar, [_aware(r[1]) for r in rows],
                                 [_aware(r[2]) for r in rows])
    for (unit_id, _began, _at), value in zip(rows, days, strict=True):
        figures[unit_id].reply_days.append(round(float(value), 3))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
