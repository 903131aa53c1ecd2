"""`hub demo`'s past weeks: made once, through the case service, with every kind of
handling the reports and inbox views show, and each full week published."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hub.core import Hub
from hub.demo_history import seed_history
from hub.models import (
    Case,
    CaseEvent,
    CoTask,
    MisconductFinding,
    RankingReport,
    Reminder,
    ReplyTemplate,
)

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_history_is_made_once_and_published(hub: Hub) -> None:
    made = seed_history(hub, now=NOW)
    assert made is not None and made["cases"] > 300
    assert made["published"] == [f"2026-W{w}" for w in range(43, 49)]
    assert seed_history(hub, now=NOW) is None  # a restart adds nothing
    with hub.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == made["cases"] + made["showcase"]
        states = dict(s.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        actions = dict(s.execute(select(CaseEvent.action, func.count())
                                 .group_by(CaseEvent.action)).all())
        late = s.scalar(select(func.count()).select_from(Case)
                        .where(Case.due_state == "overdue"))
        returned_then = dict(s.execute(
            select(CaseEvent.action, func.count()).where(CaseEvent.from_state == "returned")
            .group_by(CaseEvent.action)).all())
        findings = s.scalar(select(func.count()).select_from(MisconductFinding))
        reports = list(s.scalars(select(RankingReport.period).order_by(RankingReport.period)))
        first_event = s.scalar(select(func.min(CaseEvent.at)))
    # cases in every state the views show: waiting in triage, late and open, answered,
    # closed after a rating, reopened after 不满意
    assert states.get("triage", 0) >= 1 and late >= 1, (states, late)
    assert states.get("replied", 0) and states.get("closed", 0), states
    for action in ("assign", "sign", "reply", "return", "reopen", "close", "grant_extension",
                   "overdue", "cohandle", "cohandle_answer", "warn"):
        assert actions.get(action, 0) >= 1, (action, actions)
    assert returned_then.get("assign", 0) >= 2  # returns judged by a dispatcher
    # today's work for the demo accounts: something in every queue (hub/demo_showcase.py)
    assert made["showcase"] == 8 and states.get("returned", 0) >= 1
    with hub.sessions() as s:
        asked = s.scalar(select(func.count()).select_from(Case).where(
            Case.extension_requested | Case.pause_requested))
        urged = s.scalar(select(func.count()).select_from(Case).where(Case.urge_count >= 2))
        flagged = s.scalar(select(func.count()).select_from(Case).where(Case.reply_flagged))
        cotasks = s.scalar(select(func.count()).select_from(CoTask).where(
            CoTask.state == "open"))
        reminders = s.scalar(select(func.count()).select_from(Reminder))
        kept = s.scalar(select(func.count()).select_from(ReplyTemplate))
    assert asked >= 2 and urged >= 1 and flagged >= 1 and cotasks >= 1 and reminders >= 1
    assert kept == 2
    assert made["rightful_returns"] >= 1 and made["wrongful_returns"] >= 1
    assert findings == 2
    assert reports == made["published"]
    assert first_event is not None and first_event.astimezone(NOW.tzinfo).date().isoformat() \
        <= "2026-10-19"
    files = sorted(p.name for p in (hub.settings.var_dir / "reports").iterdir())
    assert "ranking-2026-W48.html" in files and len(files) == 4 * 6
    with hub.sessions() as s:
        payload = s.scalar(select(RankingReport.payload)
                           .where(RankingReport.period == "2026-W48"))
    assert payload["previous"]["period"] == "2026-W47"  # movement against the week before
    assert any(t["best"] and t["worst"] for t in payload["tiers"])
    assert payload["hot_issues"] and payload["city_totals"]["due"] > 20
