"""Write a report as HTML (the citizens' bulletin), CSV, XLSX and JSON.

Every file is a function of the payload alone: no clock, no random ids, no
dict-order surprises. The XLSX package is written with fixed timestamps (document
properties and zip entries: the period's last day), so the same payload gives the
same bytes. Spreadsheet cells go through hub/security/cells.py: a hot issue's label
comes from citizens' words, and none may open as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from hub.ranking.charts import indicator_charts
from hub.security.cells import safe_row

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
STATUS = {"ranked": "已排名", "too_few": "样本过少", "no_cases": "无交办"}
# (header, figure key or rate name, kind): kind n = count, r = rate, d = days, x = other
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("层级", "tier", "x"), ("名次", "rank", "x"), ("单位", "name", "x"),
    ("状态", "status", "x"), ("综合得分", "score", "x"), ("交办", "assigned", "n"),
    ("应签收", "sign_due", "n"), ("按时签收", "sign_on_time", "n"), ("签收及时率", "sign", "r"),
    ("应办结", "due", "n"), ("其中往期超期", "due_carried", "n"), ("已答复", "due_replied", "n"),
    ("按期答复", "due_on_time", "n"), ("按期答复率", "on_time", "r"),
    ("已办结", "due_closed", "n"), ("办结率", "completion", "r"),
    ("超期未答复", "late_open", "n"), ("评价数", "rated", "n"), ("满意", "满意", "g"),
    ("基本满意", "基本满意", "g"), ("不满意", "不满意", "g"), ("满意率", "satisfaction", "r"),
    ("解决", "resolved", "n"), ("询问解决", "resolution_asked", "n"),
    ("解决率", "resolution", "r"), ("未回访", "callback_unreached", "n"),
    ("协办应回复", "cohandle_due", "n"), ("协办按期回复", "cohandle_on_time", "n"),
    ("质检提示答复", "replies_flagged", "n"),
    ("退回", "returned", "n"), ("错退", "wrongful_returns", "n"),
    ("正确退回", "rightful_returns", "n"), ("回退率", "returns", "r"),
    ("答复件数", "replied", "n"), ("重办", "reopened", "n"), ("重办率", "redo", "r"),
    ("答复用时中位数(工作日)", "reply_days_median", "n"),
    ("答复用时90分位(工作日)", "reply_days_p90", "n"),
    ("较上期名次变化", "movement", "x"), ("连续后三名期数", "bottom3_streak", "x"),
    ("处理", "escalation", "x"))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _cell(entry: dict[str, Any], tiers: dict[str, str], key: str, kind: str,
          as_text: bool) -> Any:
    f = entry["figures"]
    if kind == "r":
        value = entry["rates"].get(key)
        return pct(value) if as_text else value
    if kind == "g":
        return f["ratings"][key]
    if kind == "n":
        return f.get(key)  # (a payload stored by an older version may lack a column)
    if key == "tier":
        return tiers[entry["tier"]]
    if key == "status":
        return STATUS[entry["status"]]
    value = entry.get(key)
    return "" if value is None and as_text else value


def rows(payload: dict[str, Any], as_text: bool = True) -> list[list[Any]]:
    tiers = {t["code"]: t["title"] for t in payload["tiers"]}
    return [[_cell(e, tiers, key, kind, as_text) for _, key, kind in COLUMNS]
            for e in payload["entries"]]


def render_html(payload: dict[str, Any]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    charts = [{**c, "svg": Markup(c["svg"])} for c in indicator_charts(payload)]
    names = {e["unit"]: e["name"] for e in payload["entries"]}
    return env.get_template("report.html").render(
        r=payload, charts=charts, pct=pct, names=names, change=_change,
        numerals="一二三四五六七八九十")


def _change(now: float | None, before: float | None, rate: bool = True) -> str:
    """较上期: percentage points for rates, plain numbers for counts."""
    if now is None or before is None:
        return "—"
    diff = (now - before) * (100 if rate else 1)
    unit = "个百分点" if rate else "件"
    if abs(diff) < (0.05 if rate else 0.5):
        return "持平"
    shown = f"{abs(diff):.1f}" if rate else f"{abs(diff):.0f}"
    return f"{'上升' if diff > 0 else '下降'}{shown}{unit}"


def csv_bytes(payload: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c[0] for c in COLUMNS])
    writer.writerows(safe_row(r) for r in rows(payload))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry one timestamp (openpyxl stamps the clock's)."""

    stamp = (1980, 1, 1, 0, 0, 0)

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        super().writestr(info, data)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        """openpyxl writes worksheets from temporary files: stored as if by writestr."""
        with open(filename, "rb") as fh:
            self.writestr(arcname or Path(filename).name, fh.read())


def xlsx_bytes(payload: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "排名"
    sheet.append([c[0] for c in COLUMNS])
    for row in rows(payload, as_text=False):
        sheet.append(safe_row(row))
    for index, (_, _, kind) in enumerate(COLUMNS, 1):
        if kind == "r":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.0%"
    _summary_sheet(book.create_sheet("全市概况"), payload)
    hot = book.create_sheet("热点问题")
    hot.append(["区县", "类别", "关键词", "诉求量", "渠道数", "点赞", "工单"])
    for h in payload.get("hot_issues", []):
        hot.append(safe_row([h["county"], h["category"], h["label"], h["volume"],
                             h["channels"], h["votes"], "、".join(h["cases"])]))
    notes = book.create_sheet("指标说明")
    for item in payload["definitions"]:
        notes.append([item["name"], item["text"]])
    for line in payload["method"]:
        notes.append(["计算方法", line])
    moment = datetime.combine(date.fromisoformat(payload["to"]), datetime.min.time())
    book.properties.created = book.properties.modified = moment
    book.properties.creator = book.properties.lastModifiedBy = payload["city"]
    book.properties.title = f"{payload['city']}诉求办理情况排行 {payload['title']}"
    out = io.BytesIO()
    archive = _FixedTimeZip(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    archive.stamp = (moment.year, moment.month, moment.day, 0, 0, 0)
    ExcelWriter(book, archive).save()  # closes the archive; no clock in it
    return out.getvalue()


def _summary_sheet(sheet: Any, payload: dict[str, Any]) -> None:
    totals, rates = payload["city_totals"], payload["city_rates"]
    prev = (payload.get("previous") or {}).get("city_rates", {})
    sheet.append(["指标", "本期", "分子", "分母", "上期"])
    sheet.append(["受理", totals["received"], None, None,
                  ((payload.get("previous") or {}).get("city_totals") or {}).get("received")])
    pairs = {"sign": ("sign_on_time", "sign_due"), "on_time": ("due_on_time", "due"),
             "completion": ("due_closed", "due"), "satisfaction": ("satisfied", "rated"),
             "resolution": ("resolved", "resolution_asked"),
             "returns": ("wrongful_returns", "assigned"), "redo": ("reopened", "replied")}
    for name, (num, den) in pairs.items():
        sheet.append([payload["labels"][name], rates.get(name), totals[num], totals[den],
                      prev.get(name)])
        for col in (2, 5):
            sheet.cell(sheet.max_row, col).number_format = "0.0%"


def json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def write_files(payload: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"ranking-{payload['period']}"
    files = {
        f"{stem}.html": render_html(payload).encode("utf-8"), f"{stem}.csv": csv_bytes(payload),
        f"{stem}.xlsx": xlsx_bytes(payload), f"{stem}.json": json_bytes(payload),
    }
    paths = []
    for name, data in files.items():
        path = out_dir / name
        path.write_bytes(data)
        paths.append(path)
    return paths
