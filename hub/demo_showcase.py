"""Today's work for the demo's own accounts (住建, 城管, 交通 and the supervisor), made
through the real services after the history (hub/demo_history.py): so that a newcomer
logging in as any demo account finds something in each queue: cases to sign and
answer, a return waiting for arbitration, pause and extension requests to approve, a
co-handling task, a case urged twice, a reply sent despite the quality check, reply
templates. Development only, like the rest of the demo.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from classifiers.decision import RouteDecision
from hub.lifecycle import arbitration, cohandling, pauses
from hub.lifecycle.resolutions import RESOLUTIONS, Resolution
from hub.lifecycle.service import CaseService
from hub.models import Appeal
from hub.replies import templates

CASES = (  # key, unit, category, title, body
    ("sign", "zhujian", "城乡建设", "建设路人行道地砖松动",
     "建设路中段人行道地砖大面积松动，雨天一踩就溅水，老人走路容易摔倒，请尽快修复。"),
    ("due", "zhujian", "城乡建设", "阳光小区二次供水水箱长期不清洗",
     "阳光小区二次供水水箱一年多没有清洗，水龙头放出的水有黄色沉淀，请督促物业清洗。"),
    ("return", "chengguan", "城乡建设", "幸福小区电梯频繁故障",
     "幸福小区5栋电梯一个月坏了四次，有人被困，物业说没钱修，希望有关部门管一管。"),
    ("pause", "zhujian", "城乡建设", "桂花路老旧管网改造后路面塌陷",
     "桂花路管网改造完工后路面出现塌陷，车辆经过颠簸严重，希望尽快检测修复。"),
    ("extend", "jiaotong", "交通运输", "东风路公交站台没有遮雨棚",
     "东风路口公交站台没有遮雨棚，下雨天等车的老人小孩都淋雨，建议加装遮雨棚。"),
    ("cohandle", "jiaotong", "交通运输", "学校门口上下学时段交通拥堵",
     "实验小学门口上下学时段车辆乱停，交通拥堵严重，建议设置临时停车区并加强疏导。"),
    ("urged", "chengguan", "城乡建设", "夜市占道经营油烟扰民",
     "和平路夜市摊贩占道经营到凌晨，油烟和噪音扰民，多次反映没有改善。"),
    ("flagged", "zhujian", "城乡建设", "小区路灯损坏无人维修",
     "绿洲小区东门路灯坏了两个多月，物业说不归他们管，晚上出入很不安全。"),
)
TEMPLATES = (
    ("已修复（通用）", None, "已解决",
     "{称呼}您好！您反映的问题（工单{编号}）我局已于{日期}派人现场核查并处理：（请写明做了什么、"
     "结果如何）。如仍有问题，请再次联系12345。"),
    ("列入计划（通用）", None, "列入计划",
     "{称呼}您好！经核查，您反映的问题（工单{编号}）需列入改造计划，计划于（请写明日期）前完成，"
     "届时将告知您办理结果。"),
)


def showcase(hub: Any, session: Session, svc: CaseService, now: datetime) -> int:
    """Make today's cases; returns how many."""
    made: dict[str, int] = {}
    opened = now - timedelta(hours=30)
    # the "due" case came in three working days ago: late by now, and warned
    long_ago = opened
    for _ in range(3):
        long_ago -= timedelta(days=1)
        while not svc.calendar.is_workday(svc.calendar.local_date(long_ago)):
            long_ago -= timedelta(days=1)
    for n, (key, unit, category, title, body) in enumerate(CASES):
        when = long_ago if key == "due" else opened
        appeal = Appeal(source_id=hub.source_ids["hotline-desk"], external_id=f"showcase-{n}",
                        received_at=when, title=title, body=body, contact_name="林女士",
                        contact_phone=f"1360000{n:04d}", state="done")
        session.add(appeal)
        session.flush()
        decision = RouteDecision(category, None, None, 0.5, True, [])
        made[key] = svc.open_case(session, appeal, decision, actor="router", now=when).id
        svc.assign(session, made[key], unit, "dispatcher:dispatcher", now=when)
        if key not in ("sign", "due"):
            svc.sign(session, made[key], f"unit:{unit}", now=opened + timedelta(hours=1))
    later = opened + timedelta(hours=3)
    arbitration.return_case(svc, session, made["return"], "unit:chengguan",
                            "电梯属于特种设备，由住建部门和市场监管部门管理",
                            code=arbitration.ELSEWHERE[0], suggested="zhujian", now=later)
    pauses.request(svc, session, made["pause"], "unit:zhujian", pauses.PAUSE_KINDS[2],
                   "需等待第三方检测机构出具路面检测报告", now=later)
    svc.request_extension(session, made["extend"], "unit:jiaotong", "遮雨棚需规划部门审批",
                          now=later)
    cohandling.add(svc, session, made["cohandle"], "dispatcher:dispatcher", "zhujian",
                   "请核实学校周边可用于临时停车的空地", now=later)
    for hours in (4, 6):
        svc.urge(session, made["urged"], "supervisor:supervisor", "请尽快处理",
                 now=opened + timedelta(hours=hours))
    svc.reply(session, made["flagged"], "unit:zhujian", "您好，已转相关部门处理。",
              now=later, resolution=Resolution("已解决"),
              quality=(["too_short"], "已电话向市民详细说明"))
    for name, category, resolution, text in TEMPLATES:
        templates.save(session, hub.unit_ids["zhujian"], "unit:zhujian",
                       {"name": name, "category": category or "", "resolution": resolution,
                        "body": text}, tuple(hub.config.routing.categories), RESOLUTIONS)
    return len(made)
