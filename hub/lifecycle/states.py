"""The case state machine as data: which action may move a case from where to where.

received → triage → assigned → signed → replied → closed, with returned (退回),
reopened (重办), merged (合并) and the same-state actions urge (督办/催办) and
extension (延期). Anything not listed is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_WORK = ("assigned", "signed", "reopened")
# The same set as SQL, for partial indexes and queries that must repeat their
# predicate literally (SQLite uses a partial index only then).
OPEN_WORK_SQL = "state IN (" + ", ".join(f"'{s}'" for s in OPEN_WORK) + ")"
#: open work that is due soon or overdue (临期/超期), as SQL for the same reason
LATE_SQL = "due_state IN ('due_soon', 'overdue')"
#: the operators' 待回访 queue (hub/lifecycle/callbacks.py), as SQL for its partial index
CALLBACK_PENDING_SQL = "callback_state = 'pending'"
#: actions that set a case's reply deadline (an obligation to answer by then); a
#: granted pause (挂起) sets none, ending the obligation before it, and resuming sets
#: the deadline again from the working time that was left (hub/lifecycle/pauses.py)
DEADLINE_SETTING = ("assign", "reassign", "reopen", "grant_extension", "grant_pause",
                    "resume")
DEADLINE_SETTING_SQL = "action IN (" + ", ".join(f"'{a}'" for a in DEADLINE_SETTING) + ")"
#: a citizen's grades of a reply (评价)
GRADES = ("满意", "基本满意", "不满意")
STATES = ("received", "triage", "assigned", "signed", "replied", "returned", "reopened",
          "merged", "closed")
STATE_LABELS = {
    "received": "已受理", "triage": "待分拨", "assigned": "已交办", "signed": "已签收",
    "replied": "已答复", "returned": "已退回", "reopened": "重办中", "merged": "已合并",
    "closed": "已办结",
}
ACTION_LABELS = {
    "receive": "受理", "triage": "转人工分拨", "assign": "交办", "reassign": "改派",
    "sign": "签收", "return": "退回", "request_extension": "申请延期",
    "grant_extension": "同意延期", "refuse_extension": "不同意延期", "urge": "督办",
    "escalate": "升级督办", "reply": "答复", "rate": "评价", "reopen": "重办",
    "close": "办结", "merge": "合并", "correct": "更正分类", "due_soon": "临期提醒",
    "overdue": "超期", "duplicate": "关联重复件", "erase": "删除个人信息",
    "surge": "热点突发", "surge_edit": "热点处置",
    "request_pause": "申请挂起", "grant_pause": "同意挂起", "refuse_pause": "不同意挂起",
    "resume": "恢复计时", "callback": "回访", "callback_unreached": "未回访",
    "warn": "分级预警", "conclude": "审核办结", "answer_directly": "直接答复",
    "cohandle": "交办协办", "cohandle_answer": "协办回复",
}


#: who did a step, when it was not a person: what the case history says
SYSTEM_ACTORS = {
    "router": "智能分拨", "dedupe": "重复件合并", "citizen": "群众", "qr-evaluation": "扫码评议",
    "retention": "到期清除", "system:deadline-check": "期限检查",
    "system:staged-warnings": "分级预警",
}


def state_label(state: str | None) -> str:
    """A state's Chinese label: the one lookup every page, export and API uses
    (tests/test_declarations.py checks every state has one)."""
    return STATE_LABELS.get(state or "", state or "")


def action_label(action: str | None) -> str:
    return ACTION_LABELS.get(action or "", action or "")


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None  # None: the state stays as it is


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("triage", ("received",), "triage"),
    Transition("assign", ("received", "triage", "returned"), "assigned"),
    Transition("reassign", OPEN_WORK, "assigned"),
    Transition("sign", ("assigned", "reopened"), "signed"),
    Transition("return", ("assigned", "signed"), "returned"),
    Transition("request_extension", OPEN_WORK, None),
    Transition("grant_extension", OPEN_WORK, None),
    Transition("refuse_extension", OPEN_WORK, None),
    Transition("request_pause", OPEN_WORK, None),
    Transition("grant_pause", OPEN_WORK, None),
    Transition("refuse_pause", OPEN_WORK, None),
    Transition("resume", OPEN_WORK, None),
    Transition("cohandle", OPEN_WORK, None),
    Transition("urge", ("triage", "returned", *OPEN_WORK), None),
    Transition("escalate", ("triage", "returned", *OPEN_WORK), None),
    Transition("reply", ("signed",), "replied"),
    # an operator answers on the call from the knowledge base (hub/knowledge/direct.py)
    Transition("answer_directly", ("received", "triage"), "replied"),
    Transition("close", ("replied",), "closed"),
    Transition("conclude", ("reopened", "signed", "replied"), "closed"),
    Transition("callback", ("replied",), None),
    Transition("callback_unreached", ("replied",), None),
    Transition("reopen", ("replied", "closed"), "reopened"),
    Transition("merge", ("received", "triage", "returned", "assigned", "signed"), "merged"),
    Transition("correct", ("received", "triage", "returned", *OPEN_WORK), None),
    Transition("due_soon", OPEN_WORK, None),
    Transition("overdue", OPEN_WORK, None),
)}


class IllegalTransition(ValueError):
    """The action is not allowed from the case's current state."""

    def __init__(self, action: str, state: str) -> None:
        self.action, self.state = action, state
        super().__init__(f"“{ACTION_LABELS.get(action, action)}”不适用于"
                         f"{STATE_LABELS.get(state, state)}的工单")


def target_of(action: str, state: str) -> str:
    """The state after ``action`` from ``state``; raises IllegalTransition."""
    transition = TRANSITIONS.get(action)
    if transition is None or state not in transition.sources:
        raise IllegalTransition(action, state)
    return transition.target or state
