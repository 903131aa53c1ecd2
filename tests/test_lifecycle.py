"""The case state machine, deadlines in working days, citizens' ratings, conflicts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from classifiers.decision import RouteDecision
from hub.config import DeadlineSpec
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.service import CaseError, CaseService, Conflict, NotFound
from hub.lifecycle.states import TRANSITIONS, IllegalTransition, target_of
from hub.models import CaseEvent
from hub.queue import enqueue

CONFIDENT = RouteDecision("城乡建设", "A3-zhujian", "A3", 0.95, False, [])
UNSURE = RouteDecision("城乡建设", "A3-zhujian", "A3", 0.2, True,
                       [{"category": "城乡建设", "unit": "A3-zhujian", "p": 0.2}])


def new_case(hub, decision=CONFIDENT, ext="x1"):  # type: ignore[no-untyped-def]
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        item = validate_item({"external_id": ext, "body": "A3区含浦街道路灯不亮已经一个月了"})
        res = enqueue(s, hub.source_ids["hotline-push"], [item])[0]
        from hub.models import Appeal

        case = svc.open_case(s, s.get(Appeal, res.id), decision)
    return svc, case


def events(hub, case_id):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    with hub.sessions() as s:
        return [(e.action, e.from_state, e.to_state) for e in
                s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                          .order_by(CaseEvent.id))]


def test_every_action_is_refused_from_states_not_listed() -> None:
    from hub.lifecycle.states import STATES

    for action, transition in TRANSITIONS.items():
        for state in STATES:
            if state in transition.sources:
                assert target_of(action, state) == (transition.target or state)
            else:
                with pytest.raises(IllegalTransition):
                    target_of(action, state)


def test_full_loop_with_redo_and_supervisor_escalation(hub) -> None:  # type: ignore[no-untyped-def]
    svc, case = new_case(hub)
    assert case.state == "assigned" and case.deadline_at is not None
    unit = hub.unit_ids["A3-zhujian"]
    with transaction(hub.sessions) as s:
        with pytest.raises(IllegalTransition):
            svc.reply(s, case.id, "u1", "已经处理完毕，路灯已修复。", unit_id=unit)
    with transaction(hub.sessions) as s:
        svc.sign(s, case.id, "u1", unit_id=unit)
        svc.reply(s, case.id, "u1", "已经处理完毕，路灯已修复。", unit_id=unit)
    with transaction(hub.sessions) as s, pytest.raises(NotFound):
        svc.rate(s, case.number, "WRONG1", "满意")
    with transaction(hub.sessions) as s:
        c = svc.rate(s, case.number, case.query_code.lower(), "不满意", "路灯还是不亮")
        assert c.state == "reopened" and c.reopen_count == 1 and not c.escalated
    with transaction(hub.sessions) as s, pytest.raises(Conflict):
        svc.rate(s, case.number, case.query_code, "满意")
    with transaction(hub.sessions) as s:
        svc.sign(s, case.id, "u1", unit_id=unit)
        svc.reply(s, case.id, "u1", "再次核查，已更换灯具。", unit_id=unit)
        c = svc.rate(s, case.number, case.query_code, "不满意")
        assert c.state == "reopened" and c.escalated
        svc.sign(s, case.id, "u1", unit_id=unit)
        svc.reply(s, case.id, "u1", "第三次处理，现场已验收。", unit_id=unit)
        c = svc.rate(s, case.number, case.query_code, "基本满意")
        assert c.state == "closed" and c.closed_at is not None
    actions = [a for a, _, _ in events(hub, case.id)]
    assert actions[:2] == ["receive", "assign"]
    assert actions.count("reopen") == 2 and actions[-1] == "close"


def test_triage_return_extension_and_merge(hub) -> None:  # type: ignore[no-untyped-def]
    svc, case = new_case(hub, UNSURE)
    assert case.state == "triage" and case.unit_id is None
    with transaction(hub.sessions) as s:
        c = svc.assign(s, case.id, "A3-chengguan", "dispatcher")
        with pytest.raises(CaseError):
            svc.return_case(s, case.id, "unit", "  ")
    with transaction(hub.sessions) as s:
        c = svc.return_case(s, case.id, "unit", "不属于我单位职责")
        assert c.state == "returned" and c.return_count == 1 and c.unit_id is None
        c = svc.assign(s, case.id, "A3-zhujian", "dispatcher", difficulty="hard")
        first_deadline = c.deadline_at
        svc.sign(s, case.id, "unit")
        svc.request_extension(s, case.id, "unit", "需要协调供电公司")
        with pytest.raises(Conflict):
            svc.request_extension(s, case.id, "unit", "again")
        c = svc.decide_extension(s, case.id, "supervisor", grant=True)
        assert c.deadline_at > first_deadline and not c.extension_requested
    _, dup = new_case(hub, CONFIDENT, ext="x2")
    with transaction(hub.sessions) as s:
        with pytest.raises(CaseError):
            svc.merge(s, dup.id, dup.id, "dispatcher")
        m = svc.merge(s, dup.id, case.id, "dispatcher")
        assert m.state == "merged" and m.merged_into_id == case.id


def test_other_units_cannot_act_on_a_case(hub) -> None:  # type: ignore[no-untyped-def]
    from hub.lifecycle.service import Forbidden

    svc, case = new_case(hub)
    with transaction(hub.sessions) as s, pytest.raises(Forbidden):
        svc.sign(s, case.id, "other", unit_id=hub.unit_ids["A1-zhujian"])


def test_two_staff_replying_at_once_one_wins(hub) -> None:  # type: ignore[no-untyped-def]
    svc, case = new_case(hub)
    with transaction(hub.sessions) as s:
        svc.sign(s, case.id, "u1")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def reply(who: str) -> None:
        barrier.wait()
        try:
            with transaction(hub.sessions) as s:
                svc.reply(s, case.id, who, f"{who} 的答复内容：已处理。", expected_version=3)
            outcomes.append("ok")
        except (Conflict, IllegalTransition):
            outcomes.append("conflict")

    threads = [threading.Thread(target=reply, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert [a for a, _, _ in events(hub, case.id)].count("reply") == 1


CAL = WorkCalendar(DeadlineSpec())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_deadlines_skip_spring_festival_and_count_make_up_saturdays() -> None:
    # Friday 2026-02-13 (city time): Sat 02-14 is a make-up working day, 15-23 are off.
    due = CAL.add_workdays(utc(2026, 2, 13, 2), 3)
    assert CAL.local_date(due).isoformat() == "2026-02-25"
    assert CAL.is_workday(datetime(2026, 2, 14).date())
    assert not CAL.is_workday(datetime(2026, 2, 16).date())


def test_deadlines_skip_national_day() -> None:
    # Oct 1-7 are off; Thu Oct 8 works, and so does Saturday Oct 10 (调休).
    assert CAL.local_date(CAL.add_workdays(utc(2026, 9, 30, 2), 1)).isoformat() == "2026-10-08"
    assert CAL.local_date(CAL.add_workdays(utc(2026, 9, 30, 2), 3)).isoformat() == "2026-10-10"
    # Reply time counts only working time: Sep 30 18:00 -> Oct 9 06:00 (city time).
    assert CAL.workdays_between(utc(2026, 9, 30, 10), utc(2026, 10, 8, 22)) == \
        pytest.approx(0.25 + 1.0 + 0.25)


def test_years_without_official_data_fall_back_to_weekends_and_config() -> None:
    cal = WorkCalendar(DeadlineSpec(extra_holidays=("2027-01-01",)))
    assert not cal.is_workday(datetime(2027, 1, 1).date())
    assert cal.is_workday(datetime(2027, 1, 4).date())
    assert not cal.is_workday(datetime(2027, 1, 9).date())


def test_deadline_check_marks_urges_and_escalates(hub) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from hub.lifecycle.deadlines import check_deadlines

    svc, case = new_case(hub)
    later = case.deadline_at + timedelta(hours=1)
    spec = hub.config.deadlines
    with transaction(hub.sessions) as s:
        first = check_deadlines(s, spec, svc.calendar, now=later)
    assert first["overdue"] == 1 and first["urged"] == 1 and first["escalated"] == 0
    with transaction(hub.sessions) as s:
        again = check_deadlines(s, spec, svc.calendar, now=later + timedelta(hours=1))
    assert again == {"overdue": 0, "due_soon": 0, "urged": 0, "escalated": 0}
    with transaction(hub.sessions) as s:
        next_day = check_deadlines(s, spec, svc.calendar, now=later + timedelta(days=1))
    assert next_day["urged"] == 1 and next_day["escalated"] == 1


def test_the_scheduled_deadline_job_runs_once_and_refreshes_sqlite_statistics(hub) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from hub.db import transaction
    from hub.intake_schema import validate_item
    from hub.pipeline import ManualTriage, Pipeline
    from hub.queue import enqueue
    from hub.scheduler import deadline_job

    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [validate_item(
            {"external_id": "dl-1", "body": "A3区某小区门口路灯不亮已经两周了"})])
    Pipeline(hub, ManualTriage()).drain()
    result = deadline_job(hub)
    assert result is not None and set(result) == {"overdue", "due_soon", "urged", "escalated",
                                                    "warned"}
    if hub.engine.dialect.name == "sqlite":
        with hub.sessions() as s:  # ANALYZE ran: the planner has statistics to read
            assert s.execute(text("SELECT count(*) FROM sqlite_stat1 "
                                  "WHERE tbl = 'work_order'")).scalar() > 0
