"""What staff can do to a case, declared once.

Each ``StaffAction`` names the lifecycle transitions it performs (lifecycle/states.py
says from which states), who may do it, its label, an extra condition on the case
(an extension decision needs a pending request) and the fields its form and API take.
Everything else derives from these declarations: the permission check and the
buttons a case page shows (``available``), the role table (hub/web/access.py), the
staff API's request schema and its OpenAPI entry (hub/web/staff_api.py), and the
check that the web layer has a handler for each (hub/web/actions.py). Adding an
action means a declaration here, a service method and a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.lifecycle.arbitration import RETURN_CODES, RULINGS
from hub.lifecycle.callbacks import REACHED_CHOICES
from hub.lifecycle.pauses import PAUSE_KINDS, is_paused
from hub.lifecycle.resolutions import RESOLUTIONS
from hub.lifecycle.states import GRADES, TRANSITIONS

AWAITING_DISPATCH = ("received", "triage", "returned")  # not yet with a unit (待分拨)


@dataclass(frozen=True)
class ActionField:
    """One input of an action's form and API body."""

    name: str
    kind: str = "text"  # text | unit | category | choice | bool | case_number
    limit: int = 4000
    required: bool = False
    choices: tuple[str, ...] = ()
    label: str = ""  # on a form made from the declaration (hub/web/templates/case.html)

    def schema(self) -> dict[str, Any]:
        if self.kind == "bool":
            return {"type": "boolean"}
        out: dict[str, Any] = {"type": "string", "maxLength": self.limit}
        if self.choices:
            out["enum"] = list(self.choices)
        return out


@dataclass(frozen=True)
class StaffAction:
    name: str
    label: str
    roles: tuple[str, ...]
    transitions: tuple[str, ...]  # lifecycle actions it may record (assign: or reassign)
    fields: tuple[ActionField, ...] = ()
    when: Callable[[Any], bool] | None = field(default=None, compare=False)

    @property
    def states(self) -> tuple[str, ...]:
        """The case states it applies in: those of its transitions."""
        found: list[str] = []
        for name in self.transitions:
            found += [s for s in TRANSITIONS[name].sources if s not in found]
        return tuple(found)

    def applies_to(self, case: Any) -> bool:
        """Whether the action makes sense for ``case`` now (any object with ``state``
        and the attributes ``when`` reads: a Case or a page's dict-like view)."""
        state = case["state"] if isinstance(case, dict) else case.state
        return state in self.states and (self.when is None or self.when(case))


def _attr(case: Any, name: str) -> Any:
    return case.get(name) if isinstance(case, dict) else getattr(case, name, None)


NOTE = ActionField("note", limit=500, label="意见")
# the service says, in Chinese, when a reason is missing
REASON = ActionField("reason", limit=1000, label="理由")

STAFF_ACTIONS: dict[str, StaffAction] = {a.name: a for a in (
    # a returned case is ruled on (arbitrate), not simply assigned again; the API still
    # takes assign there, which the rankings judge the same way
    StaffAction("assign", "交办", ("dispatcher", "supervisor"), ("assign", "reassign"), (
        ActionField("unit", "unit", 40, required=True), ActionField("category", "category", 40),
        ActionField("difficulty", "choice", 10, choices=("normal", "hard")), NOTE,
        ActionField("override_reason", limit=300)),
                when=lambda c: _attr(c, "state") != "returned"),
    StaffAction("arbitrate", "退单仲裁", ("dispatcher", "supervisor"), ("assign",), (
        ActionField("ruling", "choice", 8, required=True, choices=RULINGS, label="仲裁结果"),
        ActionField("unit", "unit", 40, label="改派单位（退回成立时，默认为建议单位）"), NOTE),
                when=lambda c: _attr(c, "state") == "returned"),
    StaffAction("merge", "合并", ("dispatcher",), ("merge",),
                (ActionField("into", "case_number", 24),)),  # _merge names a missing one
    StaffAction("correct", "更正分类", ("dispatcher",), ("correct",), (
        ActionField("category", "category", 40, required=True),
        ActionField("unit", "unit", 40))),
    StaffAction("sign", "签收", ("unit",), ("sign",)),
    StaffAction("reply", "答复", ("unit",), ("reply",), (
        ActionField("body"),
        ActionField("resolution", "choice", 12, required=True, choices=RESOLUTIONS,
                    label="办理结果"),
        ActionField("planned_on", limit=10, label="计划完成日期（列入计划时）"),
        ActionField("resolution_note", limit=500, label="无法解决的原因"),
        ActionField("send_anyway", limit=300, label="仍要发送的理由（答复质检提示时填写）"))),
    StaffAction("return", "退回", ("unit",), ("return",), (
        ActionField("code", "choice", 20, required=True, choices=RETURN_CODES,
                    label="退回原因类别"),
        ActionField("suggested", "unit", 40, label="建议承办单位（非本单位职责、属地错误时必填）"),
        REASON)),
    StaffAction("request_extension", "申请延期", ("unit",), ("request_extension",), (REASON,),
                when=lambda c: not _attr(c, "extension_requested") and not is_paused(c)),
    StaffAction("decide_extension", "延期审批", ("supervisor",),
                ("grant_extension", "refuse_extension"), (ActionField("grant", "bool"), NOTE),
                when=lambda c: bool(_attr(c, "extension_requested"))),
    StaffAction("request_pause", "申请挂起", ("unit",), ("request_pause",), (
        ActionField("kind", "choice", 40, required=True, choices=PAUSE_KINDS,
                    label="原因类别（群众可见）"), REASON),
                when=lambda c: not _attr(c, "pause_requested") and not is_paused(c)),
    StaffAction("decide_pause", "挂起审批", ("supervisor",), ("grant_pause", "refuse_pause"),
                (ActionField("grant", "bool"), NOTE),
                when=lambda c: bool(_attr(c, "pause_requested"))),
    StaffAction("resume", "恢复计时", ("unit", "supervisor"), ("resume",), (NOTE,),
                when=is_paused),
    StaffAction("cohandle", "交办协办", ("dispatcher", "supervisor"), ("cohandle",), (
        ActionField("unit", "unit", 40, required=True, label="协办单位"),
        ActionField("task", limit=500, required=True, label="协办事项（协办单位向主办单位回复）"))),
    StaffAction("urge", "督办", ("supervisor",), ("urge",), (NOTE,)),
    StaffAction("conclude", "审核办结", ("supervisor",), ("conclude",), (
        ActionField("note", limit=500, required=True, label="审核办结理由（记入办理记录）"),),
                when=lambda c: bool(_attr(c, "escalated"))
                and (_attr(c, "reopen_count") or 0) >= 2),
    StaffAction("callback", "回访", ("operator",), ("callback",), (
        ActionField("reached", "choice", 4, required=True, choices=REACHED_CHOICES,
                    label="回访结果"),
        ActionField("solved", "choice", 2, choices=("是", "否"), label="问题是否解决（接通时）"),
        ActionField("grade", "choice", 4, choices=GRADES, label="群众评价（接通时）"),
        ActionField("note", limit=500, label="回访记录")),
                when=lambda c: _attr(c, "callback_state") == "pending"),
)}


def may(role: str, action: str) -> bool:
    declared = STAFF_ACTIONS.get(action)
    return declared is not None and role in declared.roles


def available(role: str, case: Any) -> list[str]:
    """The actions this role may take on this case now, in declaration order: the
    buttons its page shows."""
    return [a.name for a in STAFF_ACTIONS.values() if role in a.roles and a.applies_to(case)]


def request_schema() -> dict[str, Any]:
    """The JSON body of POST /api/v1/staff/cases/{id}/actions, from the declarations."""
    properties: dict[str, Any] = {
        "action": {"type": "string", "enum": list(STAFF_ACTIONS)},
        "version": {"type": "integer", "description": "the version you saw"}}
    for action in STAFF_ACTIONS.values():
        for f in action.fields:
            properties.setdefault(f.name, f.schema())
    return {"type": "object", "required": ["action"], "properties": properties}
