"""答复模板: a unit's templates per category and ending (办理结果). Placeholders are
filled for the case at hand on its page: {编号} the case number, {日期} today,
{称呼} the citizen's masked name (张先生/女士 → 张**); the reply box starts from
the template and the unit completes it. A reply sent as the template left it is
flagged by the reply-quality check (``unedited``, hub/replies/gate.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hub.lifecycle.service import CaseError
from hub.models import ReplyTemplate, utcnow
from hub.privacy import mask_name

PLACEHOLDERS = ("{编号}", "{日期}", "{称呼}")
MAX_PER_UNIT = 100


def fill(body: str, number: str, today: date, name: str | None) -> str:
    who = mask_name(name) if name else "市民"
    return (body.replace("{编号}", number).replace("{日期}", f"{today.year}年{today.month}月"
                                                              f"{today.day}日")
            .replace("{称呼}", who or "市民"))


def for_case(session: Session, unit_id: int | None, category: str | None
             ) -> list[ReplyTemplate]:
    """The unit's templates for the case's category (and those for any category)."""
    if unit_id is None:
        return []
    return list(session.scalars(select(ReplyTemplate).where(
        ReplyTemplate.unit_id == unit_id,
        or_(ReplyTemplate.category.is_(None), ReplyTemplate.category == category))
        .order_by(ReplyTemplate.name)))


def of_unit(session: Session, unit_id: int) -> list[ReplyTemplate]:
    return list(session.scalars(select(ReplyTemplate).where(ReplyTemplate.unit_id == unit_id)
                                .order_by(ReplyTemplate.name)))


def save(session: Session, unit_id: int, actor: str, fields: dict[str, Any],
         categories: tuple[str, ...], resolutions: tuple[str, ...]) -> ReplyTemplate:
    name = str(fields.get("name", "")).strip()[:60]
    body = str(fields.get("body", "")).strip()
    category = str(fields.get("category", "")).strip() or None
    resolution = str(fields.get("resolution", "")).strip() or None
    if not name or len(body) < 10:
        raise CaseError("请填写模板名称和至少10个字的内容")
    if len(body) > 4000:
        raise CaseError("模板内容最多 4000 字")
    if category and category not in categories:
        raise CaseError(f"没有这个分类：{category}")
    if resolution and resolution not in resolutions:
        raise CaseError(f"办理结果须为：{'、'.join(resolutions)}")
    mine = of_unit(session, unit_id)
    existing = next((t for t in mine if t.name == name), None)
    if existing is None and len(mine) >= MAX_PER_UNIT:
        raise CaseError(f"每个单位最多 {MAX_PER_UNIT} 个模板")
    template = existing or ReplyTemplate(unit_id=unit_id, name=name, body=body,
                                         updated_by=actor)
    template.body, template.category, template.resolution = body, category, resolution
    template.updated_by, template.updated_at = actor, utcnow()
    session.add(template)
    session.flush()
    return template


def remove(session: Session, unit_id: int, template_id: int) -> None:
    """Only the unit's own template (another's id does nothing)."""
    session.execute(delete(ReplyTemplate).where(ReplyTemplate.id == template_id,
                                                ReplyTemplate.unit_id == unit_id))
