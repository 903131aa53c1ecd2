"""Several weeks of past cases for ``hub demo``, so its reports, late-case views and
triage queue show real content on the first start.

Every case is made and moved through ``CaseService`` (the service real cases use)
with times in the past: appeals arrive on working days, units sign, ask for more
time, return (rightly and wrongly, judged by a dispatcher), answer on time or late,
citizens rate and some reopen; a few cases are left late and open, a few recent ones
wait in triage, and two misconduct findings are recorded. Each unit has a habit
(prompt, ordinary or slow), so the rankings differ. A seeded random generator makes
the same history for the same start time. It runs once per database (a job row
guards it); then each full week is ranked and published, oldest first.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.core import Hub
from hub.lifecycle import arbitration, cohandling
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.resolutions import Resolution
from hub.lifecycle.service import CaseError, CaseService
from hub.models import Appeal, CoTask, MisconductFinding, utcnow

log = logging.getLogger(__name__)
JOB, RUN = "demo-history", "v1"
SOURCES = ("hotline-push", "web", "hotline-desk")
NAMES = ("李建国", "王秀兰", "张伟", "刘芳", "陈明", "杨丽", "赵强", "黄敏", "周杰", "吴静")
# (title, body, unit): {county} and {town} are filled in; a unit with county-level
# offices gets the county's own (A3-zhujian), as the router would
MATTERS = (
    ("{town}某小区停水", "{county}{town}某小区从昨天开始停水，没有任何通知，老人小孩生活很不方便，"
     "请供水公司尽快恢复供水。", "gongshui"),
    ("{town}高层水压太低", "{county}{town}某小区高层住户水压太低，早晚用水高峰基本没水，"
     "反映多次未解决。", "gongshui"),
    ("{town}一周停电三次", "{county}{town}一带最近一周停电三次，冰箱里的东西都坏了，"
     "请供电公司查明原因。", "gongdian"),
    ("{town}燃气费异常", "{county}{town}某小区燃气费突然比以前高出一倍，怀疑燃气表计量有问题，"
     "请燃气公司上门检测。", "ranqi"),
    ("{town}物业乱收停车费", "{county}{town}某小区物业把停车费从每月100元涨到300元，没有召开业主"
     "大会，请住建部门核查。", "zhujian"),
    ("{town}电梯经常故障", "{county}{town}某小区电梯一个月坏了四次，有老人被困，物业推说没钱修。",
     "zhujian"),
    ("{town}工地夜间施工", "{county}{town}某工地每天晚上十一点以后还在施工，噪音很大，"
     "附近居民无法休息。", "shengtai"),
    ("{town}饭店油烟扰民", "{county}{town}临街几家饭店油烟直排，住在楼上的居民窗户都不敢开。",
     "shengtai"),
    ("{town}公交线路取消", "{county}{town}的公交线路突然取消，附近几个小区的居民出行很不方便，"
     "希望恢复。", "jiaotong"),
    ("{town}道路坑洼", "{county}{town}主干道路面坑洼不平，下雨天积水严重，电动车经常摔倒。",
     "jiaotong"),
    ("{town}占道经营", "{county}{town}菜市场门口摊贩占道经营，早晚堵得车辆无法通行。",
     "chengguan"),
    ("{town}路灯不亮", "{county}{town}某路段路灯坏了半个月，晚上出行很危险，请尽快修复。",
     "chengguan"),
    ("{town}垃圾清运不及时", "{county}{town}某小区垃圾站三天没人清运，臭气熏天，蚊蝇很多。",
     "chengguan"),
    ("{town}学校强制买教辅", "{county}{town}某学校要求学生统一购买教辅资料，不买就不让上课。",
     "jiaoyu"),
    ("{town}工地拖欠工资", "{county}{town}某工地拖欠二十多名工人三个月工资，包工头联系不上。",
     "renshe"),
    ("{town}诊所无证行医", "{county}{town}一家诊所没有挂牌，给人打针输液，怀疑无证行医。",
     "weijian"),
    ("{town}预付卡商家跑路", "{county}{town}一家健身房突然关门，几百名会员的预付卡无法退费。",
     "shichang"),
    ("{town}深夜噪音扰民", "{county}{town}某酒吧每天营业到凌晨三点，音乐声很大，报警后仍未改善。",
     "gongan"),
    ("{town}养老院服务差", "{county}{town}某养老院护理人员不足，老人生活无人照料，请民政部门检查。",
     "minzheng"),
    ("{town}不动产证办理慢", "{county}{town}某小区交房五年还办不了不动产权证，开发商说在等验收。",
     "ziranziyuan"),
    ("{town}医保报销不到位", "{county}{town}居民住院后医保报销比例和政策说的不一样，窗口解释不清。",
     "yibao"),
    ("{town}雨后内涝", "{county}{town}每次下大雨某路口都积水半米深，排水管道需要疏通改造。",
     "shuiwu"),
)
EXTRA = ("已经好几天了。", "打了好几次电话都没人管。", "希望尽快处理。", "请相关部门重视。", "")


@dataclass(frozen=True)
class Habit:
    """How a unit tends to work: hours to sign, days to reply, share of returns, grades."""

    sign_hours: tuple[float, float]
    reply_days: tuple[float, float]
    stuck: float  # share of cases left unanswered
    grades: tuple[float, float]  # P(满意), P(满意 or 基本满意)


HABITS = (Habit((0.5, 4), (0.3, 2.0), 0.0, (0.8, 0.95)),
          Habit((1, 20), (0.5, 3.5), 0.03, (0.65, 0.88)),
          Habit((6, 50), (1.5, 6.0), 0.15, (0.45, 0.75)))


def seed_history(hub: Hub, now: datetime | None = None, weeks: int = 6,
                 seed: int = 15) -> dict[str, Any] | None:
    """Make the history once (None when it exists already), then publish each week."""
    from hub.ranking.period import last_full_week
    from hub.ranking.service import rank
    from hub.scheduler import run_once_per_period

    now = now or utcnow()
    result = run_once_per_period(hub, JOB, RUN,
                                 lambda s: History(hub, s, now, weeks, seed).make())
    if result is None:
        return None
    calendar = WorkCalendar(hub.config.deadlines)
    newest = last_full_week(now, calendar.tz)
    labels = [newest.label]
    while len(labels) < weeks:
        from hub.ranking.period import parse_period

        labels.append(parse_period(labels[-1], calendar.tz).previous().label)
    for label in reversed(labels):
        rank(hub, label, hub.settings.var_dir / "reports", now=now)
    result["published"] = list(reversed(labels))
    return result


class History:
    def __init__(self, hub: Hub, session: Session, now: datetime, weeks: int,
                 seed: int) -> None:
        self.hub, self.s, self.now = hub, session, now
        self.svc = CaseService(hub.config, hub.unit_ids)
        self.cal = self.svc.calendar
        self.rng = random.Random(seed)
        self.start = now - timedelta(weeks=weeks, days=now.astimezone(self.cal.tz).weekday())
        codes = sorted(c for c in hub.unit_ids if c != "city")
        self.habits = {c: HABITS[self.rng.choice((0, 0, 1, 1, 1, 2))] for c in codes}
        self.counts: dict[str, int] = {}

    # -- what happens -------------------------------------------------------------------
    def make(self) -> dict[str, Any]:
        day = self.start
        while day < self.now:
            local = day.astimezone(self.cal.tz).date()
            if self.cal.is_workday(local):
                for _ in range(self.rng.randint(16, 24)):
                    self.one_case(self.at_work(local), self.rng.choice(MATTERS))
                if local.weekday() == 1:  # a matter many report in one place that week
                    self.cluster(local)
            day += timedelta(days=1)
        self.misconduct()
        from hub.demo_showcase import showcase

        self.counts["showcase"] = showcase(self.hub, self.s, self.svc, self.now)
        from hub.lifecycle.deadlines import check_deadlines
        from hub.lifecycle.warnings import send_due

        marked = check_deadlines(self.s, self.hub.config.deadlines, self.cal, now=self.now)
        marked["warned"] = send_due(self.s, self.svc, now=self.now)
        return {**self.counts, **{f"marked_{k}": v for k, v in marked.items()}}

    def at_work(self, day: Any, earliest: int = 8, latest: int = 18) -> datetime:
        moment = datetime.combine(day, time(self.rng.randint(earliest, latest - 1),
                                            self.rng.randint(0, 59)), tzinfo=self.cal.tz)
        return moment

    def cluster(self, day: Any) -> None:
        matter = self.rng.choice(MATTERS)
        county = self.rng.choice(self.hub.config.counties)
        town = self.rng.choice(county.towns)
        for i in range(self.rng.randint(4, 7)):
            when = self.at_work(day) + timedelta(days=i % 3)
            self.one_case(when, matter, county, town)

    def one_case(self, received: datetime, matter: tuple[str, str, str],
                 county: Any = None, town: str | None = None) -> None:
        if received >= self.now:
            return
        county = county or self.rng.choice(self.hub.config.counties)
        town = town or self.rng.choice(county.towns)
        title, body, dept = matter
        local = f"{county.code}-{dept}"
        unit = local if local in self.svc.unit_ids else dept
        text = body.format(county=county.name, town=town) + self.rng.choice(EXTRA)
        n = self.counts["cases"] = self.counts.get("cases", 0) + 1
        name = self.rng.choice(NAMES)
        appeal = Appeal(source_id=self.hub.source_ids[self.rng.choice(SOURCES)],
                        external_id=f"history-{n}", received_at=received,
                        title=title.format(town=town), body=text, contact_name=name,
                        contact_phone=f"139{self.rng.randint(10000000, 99999999)}",
                        state="done", votes=self.rng.randint(0, 20))
        self.s.add(appeal)
        self.s.flush()
        recent = self.now - received < timedelta(days=4)
        triage = self.rng.random() < (0.4 if recent else 0.12)
        category = next((c for c, u in self.hub.config.routing.categories.items() if u == dept),
                        "城乡建设")
        decision = RouteDecision(category, None if triage else unit, county.code,
                                 0.4 if triage else 0.9, triage, [], rule=None,
                                 model="demo-history")  # the 派单质量 page's history
        case = self.svc.open_case(self.s, appeal, decision, actor="router", now=received)
        try:
            self.handle(case.id, unit, received, triage, recent)
        except CaseError as exc:  # a step the story no longer allows: stop there
            log.debug("demo history: case %s stops: %s", case.number, exc)

    def handle(self, case_id: int, unit: str, t: datetime, triage: bool, recent: bool) -> None:
        rng, svc, s = self.rng, self.svc, self.s
        if triage:
            if recent and rng.random() < 0.7:
                self.bump("waiting_in_triage")
                return  # still waiting for a dispatcher
            t = self.later(t, hours=(0.5, 4))
            if t >= self.now:
                return
            hard = rng.random() < 0.15
            svc.assign(s, case_id, unit, "dispatcher", difficulty="hard" if hard else "normal",
                       now=t)
        habit = self.habits[unit]
        if rng.random() < 0.07:  # returned as not ours; the dispatcher judges
            t = self.later(t, hours=(1, 20))
            if t >= self.now:
                return
            rightful = rng.random() < 0.6
            elsewhere = rng.choice(self.others(unit))
            svc.return_case(s, case_id, "unit", "不属于本单位职责范围", now=t,
                            code=arbitration.ELSEWHERE[0], suggested=elsewhere)
            t = self.later(t, hours=(1, 6))
            if t >= self.now:
                return
            self.bump("rightful_returns" if rightful else "wrongful_returns")
            arbitration.rule(svc, s, case_id, "dispatcher",
                             "退回成立" if rightful else "退回不成立", now=t)
            unit = elsewhere if rightful else unit
            habit = self.habits[unit]
        t = self.later(t, hours=habit.sign_hours)
        if t >= self.now:
            return
        svc.sign(s, case_id, "unit", now=t)
        if rng.random() < 0.04:  # 协办: another department helps with part of it
            self.cohandle(case_id, unit, t)
        if rng.random() < habit.stuck:
            self.bump("left_unanswered")
            return
        if rng.random() < 0.05:
            svc.request_extension(s, case_id, "unit", "需要现场核实，等待相关部门配合", now=t)
            t = self.later(t, hours=(2, 30))
            if t >= self.now:
                return
            svc.decide_extension(s, case_id, "supervisor", True, "同意延期", now=t)
        for round_ in range(2):
            t = self.later(t, days=habit.reply_days)
            if t >= self.now:
                return
            svc.reply(s, case_id, "unit", "经核实，已安排人员现场处理，问题已解决，感谢您的监督。",
                      now=t, resolution=Resolution("已解决"))
            self.bump("replies")
            if rng.random() > 0.7:
                return  # not rated (yet)
            t = self.later(t, hours=(4, 60))
            if t >= self.now:
                return
            case = svc.load(s, case_id)
            roll = rng.random()
            grade = ("满意" if roll < habit.grades[0] else "基本满意" if roll < habit.grades[1]
                     else "不满意")
            svc.rate(s, case.number, case.query_code, grade, now=t,
                     solved=grade != "不满意")  # 是否解决, asked beside the grade
            self.bump(f"rated_{grade}")
            if grade != "不满意" or round_:
                return
            t = self.later(t, hours=(1, 12))  # 重办: the unit signs again
            if t >= self.now:
                return
            svc.sign(s, case_id, "unit", now=t)

    def later(self, t: datetime, hours: tuple[float, float] = (0, 0),
              days: tuple[float, float] = (0, 0)) -> datetime:
        """A moment after ``t``: working days for replies, plain hours otherwise."""
        if days != (0, 0):
            span = self.rng.uniform(*days)
            whole = int(span)
            moved = self.cal.add_workdays(t, whole) if whole else t
            day = moved.astimezone(self.cal.tz).date()
            if whole:  # within that working day, at a working hour
                return self.at_work(day, 9, 18)
            return t + timedelta(hours=span * 8 + 1)
        return t + timedelta(hours=self.rng.uniform(*hours))

    def others(self, unit: str) -> list[str]:
        """Municipal departments and enterprises a returned case may rightly go to."""
        kinds = {u.code: u for u in self.hub.config.units}
        return [c for c in self.habits if c != unit and c in kinds
                and kinds[c].kind in ("department", "enterprise") and not kinds[c].discipline]

    def cohandle(self, case_id: int, lead: str, t: datetime) -> None:
        helper = self.rng.choice(self.others(lead))
        task = cohandling.add(self.svc, self.s, case_id, "dispatcher", helper,
                              "请协助核实相关情况并提出处理意见", now=t)
        self.bump("cohandled")
        answered = self.later(t, hours=(2, 60))
        if answered < self.now:
            task_id = self.s.scalar(select(CoTask.id).where(CoTask.case_id == task.id,
                                                            CoTask.state == "open"))
            cohandling.answer(self.s, task_id, self.hub.unit_ids[helper], "unit",
                              "已核实相关情况，建议由主办单位协调处理。", now=answered)

    def bump(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def misconduct(self) -> None:
        """Two verified findings (one in the last full week), against county offices."""
        offices = sorted(c for c in self.hub.unit_ids if c.endswith("-chengguan"))
        for days_ago, code in ((4, offices[0]), (20, offices[-1])):
            self.s.add(MisconductFinding(
                unit_id=self.hub.unit_ids[code], verified_by="A市纪委监委",
                verified_at=self.now - timedelta(days=days_ago + self.now.weekday()),
                note="查实工作人员办事推诿、吃拿卡要"))
            self.bump("misconduct_findings")
