"""The catalogue's lines in the database: add one, import a revision, read history.

A line is never edited. Adding a line for a key (category, 二级, 三级, county) that
already has one ends the old line on the new one's first day; importing a revision
(the yearly review, from a spreadsheet) ends every line still in force on its day and
adds the file's lines from that day. Each use case is one transaction (the caller's);
helpers never commit.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from hub.catalogue.lookup import Catalogue, Line
from hub.config import CityConfig
from hub.db import is_postgres
from hub.models import DispatchEntry, utcnow

COLUMNS = {"一级分类": "category", "二级分类": "subcategory", "三级分类": "item",
           "县区": "county", "承办单位": "unit"}
MAX_ROWS = 5000
MAX_UNPACKED = 20 * 2**20  # 5,000 rows unpack to about 2 MiB
CATALOGUE_LOCK = 7_230_028  # PostgreSQL advisory lock id, held while the catalogue changes


class CatalogueError(ValueError):
    """What is wrong with a line or a file, in Chinese, row by row."""


@dataclass(frozen=True)
class Draft:
    category: str
    subcategory: str | None
    item: str | None
    county: str | None
    unit: str

    @property
    def key(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.category, self.subcategory, self.item, self.county)


def check(config: CityConfig, fields: dict[str, Any]) -> Draft:
    """One line's fields, validated against the city's categories, counties and units
    (a unit may be given by code or by name)."""
    def clean(name: str, limit: int) -> str | None:
        value = str(fields.get(name) or "").strip()
        if len(value) > limit:
            raise CatalogueError(f"{name}过长（最多 {limit} 个字）")
        return value or None

    category = clean("category", 40)
    if not category:
        raise CatalogueError("请填写一级分类")
    if category not in config.routing.categories:
        raise CatalogueError(f"没有一级分类“{category}”")
    subcategory, item = clean("subcategory", 60), clean("item", 60)
    if item and not subcategory:
        raise CatalogueError("填写三级分类时请同时填写二级分类")
    county = clean("county", 40)
    if county:
        counties = {c.code: c.code for c in config.counties} | {c.name: c.code
                                                              for c in config.counties}
        if county not in counties:
            raise CatalogueError(f"没有县区“{county}”")
        county = counties[county]
    unit = clean("unit", 60)
    units = {u.code: u.code for u in config.units} | {u.name: u.code for u in config.units}
    if not unit or unit not in units:
        raise CatalogueError(f"没有承办单位“{unit or ''}”" if unit else "请填写承办单位")
    return Draft(category, subcategory, item, county, units[unit])


def in_force_on(day: date) -> Any:
    return (DispatchEntry.effective_from <= day) & or_(DispatchEntry.effective_to.is_(None),
                                                       DispatchEntry.effective_to > day)


def _end(session: Session, lines: list[DispatchEntry], day: date, actor: str) -> None:
    """End lines on ``day``; a line not started by then ends before it began."""
    now = utcnow()
    for line in lines:
        line.effective_to = max(day, line.effective_from)
        line.ended_by, line.ended_at = actor, now


def add_line(session: Session, config: CityConfig, actor: str, fields: dict[str, Any],
             start: date, note: str | None = None) -> DispatchEntry:
    """One line from ``start``; the key's line in force then (or starting later) ends."""
    draft = check(config, fields)
    _one_editor_at_a_time(session)
    same = list(session.scalars(select(DispatchEntry).where(
        DispatchEntry.category == draft.category, _is(DispatchEntry.subcategory, draft.subcategory),
        _is(DispatchEntry.item, draft.item), _is(DispatchEntry.county_code, draft.county),
        or_(DispatchEntry.effective_to.is_(None), DispatchEntry.effective_to > start))))
    _end(session, same, start, actor)
    line = DispatchEntry(category=draft.category, subcategory=draft.subcategory,
                         item=draft.item, county_code=draft.county, unit_code=draft.unit,
                         effective_from=start, note=(note or "").strip()[:200] or None,
                         created_by=actor)
    session.add(line)
    session.flush()
    return line


def _one_editor_at_a_time(session: Session) -> None:
    """Two admins saving the same key at once would each find no line to end and both
    open one. SQLite's write transaction already runs them one after the other; on
    PostgreSQL the second waits here and then sees the first's line."""
    if is_postgres(session):
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:k)"), {"k": CATALOGUE_LOCK})


def _is(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _unpacked_size(data: bytes) -> int:
    """What an XLSX (a zip) says it unpacks to: a few kilobytes can declare gigabytes
    (a zip bomb); zipfile never inflates an entry past its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        return 0  # not a zip: openpyxl says it cannot read it


def read_sheet(filename: str, data: bytes) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 or GBK) or XLSX file with the columns of ``COLUMNS``."""
    if not data:
        raise CatalogueError("文件是空的")
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        if _unpacked_size(data) > MAX_UNPACKED:
            raise CatalogueError("这个 Excel 文件解压后过大，不像是派单目录（请检查文件）")
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
            rows = [["" if v is None else str(v) for v in row]
                    for row in sheet.iter_rows(values_only=True)]  # type: ignore[union-attr]
        except Exception:  # a damaged or foreign file: say so, never a 500
            raise CatalogueError("无法读取这个 Excel 文件（请另存为 .xlsx 或 .csv）") from None
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise CatalogueError("无法识别文件编码（请用 UTF-8 或 GBK 保存）")
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise CatalogueError("文件是空的")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("一级分类", "承办单位") if c not in header]
    if missing:
        raise CatalogueError("缺少列：" + "、".join(missing) +
                             "（需要：" + "、".join(COLUMNS) + "）")
    body = [r for r in rows[1:] if any(str(v).strip() for v in r)]
    if len(body) > MAX_ROWS:
        raise CatalogueError(f"一次最多导入 {MAX_ROWS} 行")
    return [{COLUMNS[h]: (r[i] if i < len(r) else "") for i, h in enumerate(header)
             if h in COLUMNS} for r in body]


def import_revision(session: Session, config: CityConfig, actor: str,
                    rows: list[dict[str, Any]], start: date, note: str | None = None) -> int:
    """A whole revision from ``start``: every row checked first (all errors at once,
    nothing applied if one is wrong), then the lines in force on ``start`` (and any
    starting later) end and the file's lines begin."""
    drafts, errors, seen = [], [], {}
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            draft = check(config, row)
        except CatalogueError as exc:
            errors.append(f"第 {number} 行：{exc}")
            continue
        if draft.key in seen:
            errors.append(f"第 {number} 行：与第 {seen[draft.key]} 行重复")
            continue
        seen[draft.key] = number
        drafts.append(draft)
    if errors:
        raise CatalogueError("；".join(errors[:20]) + (f"；另有 {len(errors) - 20} 处"
                                                     if len(errors) > 20 else ""))
    if not drafts:
        raise CatalogueError("文件里没有目录行")
    _one_editor_at_a_time(session)
    current = list(session.scalars(select(DispatchEntry).where(
        or_(DispatchEntry.effective_to.is_(None), DispatchEntry.effective_to > start))))
    _end(session, current, start, actor)
    text = (note or "").strip()[:200] or f"{start.isoformat()} 版目录导入"
    session.add_all([DispatchEntry(category=d.category, subcategory=d.subcategory,
                                   item=d.item, county_code=d.county, unit_code=d.unit,
                                   effective_from=start, note=text, created_by=actor)
                     for d in drafts])
    session.flush()
    return len(drafts)


def snapshot(session: Session, since: date) -> Catalogue:
    """Every line in force on ``since`` or later (future lines included: they apply
    when their day comes, without a reload)."""
    lines = session.scalars(select(DispatchEntry).where(
        or_(DispatchEntry.effective_to.is_(None), DispatchEntry.effective_to > since),
        or_(DispatchEntry.effective_to.is_(None),
            DispatchEntry.effective_to > DispatchEntry.effective_from)))
    return Catalogue([Line(e.category, e.subcategory, e.item, e.county_code, e.unit_code,
                           e.effective_from, e.effective_to) for e in lines])


def signature(session: Session) -> tuple[int, int, str]:
    """Changes when any line is added or ended: the pipeline reloads then."""
    count, newest, ended = session.execute(select(
        func.count(DispatchEntry.id), func.max(DispatchEntry.id),
        func.max(DispatchEntry.ended_at))).one()
    return int(count or 0), int(newest or 0), str(ended or "")


def refresh(router: Any, session: Session) -> None:
    """Give ``router`` the catalogue when it changed since it last got it (one small
    read): load_router at start, the pipeline before each batch."""
    found = signature(session)
    if found != router.catalogue_signature:
        today = datetime.now(router.tz).date()
        router.use_catalogue(snapshot(session, today), found)
