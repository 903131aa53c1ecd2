"""Who may see and do what. Every staff query goes through ``scoped`` so a unit's
staff can never reach another unit's cases, whether by page, API or export.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from hub.lifecycle.actions import STAFF_ACTIONS
from hub.lifecycle.service import Forbidden
from hub.models import Case
from hub.web.auth import Staff

# action -> roles allowed to perform it, from the declarations
ACTIONS: dict[str, tuple[str, ...]] = {name: a.roles for name, a in STAFF_ACTIONS.items()}
SEE_ALL = ("operator", "dispatcher", "supervisor", "admin")
SEE_CONTACT = ("dispatcher", "supervisor", "unit")


def scoped(query: Select[Any], staff: Staff) -> Select[Any]:
    """Restrict a query over cases to what this staff member may see."""
    if staff.role in SEE_ALL:
        return query
    if staff.role == "unit" and staff.unit_id is not None:
        return query.where(Case.unit_id == staff.unit_id)
    return query.where(Case.id.is_(None))  # nobody else sees any case


def can_view(staff: Staff, case: Case) -> bool:
    return staff.role in SEE_ALL or (staff.role == "unit" and staff.unit_id is not None
                                     and case.unit_id == staff.unit_id)


def require_view(staff: Staff, case: Case) -> None:
    if not can_view(staff, case):
        # the same answer as for a case that does not exist: ids are not confirmed
        from hub.lifecycle.service import NotFound
        raise NotFound("找不到这件工单")


def require_action(staff: Staff, action: str) -> None:
    if staff.role not in ACTIONS.get(action, ()):
        declared = STAFF_ACTIONS.get(action)
        raise Forbidden(f"您的角色不能执行“{declared.label if declared else action}”")


def _attr(case: Any, name: str) -> Any:
    return case.get(name) if isinstance(case, dict) else getattr(case, name, None)


def may_see_contact(staff: Staff, case: Case, calling: bool = False) -> bool:
    """Contact details and unmasked text: dispatchers and supervisors; a unit only when
    the citizen's identity is not hidden from it, or when it is the discipline body
    a whistleblower's report is for (hub/whistleblower.py)."""
    if staff.role in ("dispatcher", "supervisor"):
        return True
    if staff.role == "operator":  # on the case page, to make a pending 回访 call (never
        # a whistleblower's; never in lists or exports)
        return calling and _attr(case, "callback_state") == "pending" \
            and not _attr(case, "hide_identity")
    return staff.role == "unit" and (not case.hide_identity or staff.unit_discipline)
