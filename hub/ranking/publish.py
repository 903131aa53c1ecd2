"""Write a report as HTML (with an inline SVG chart), CSV, XLSX and JSON.

Spreadsheet cells go through hub/security/cells.py: a hot issue's label comes from
citizens' words, and none may open as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from openpyxl import Workbook

from hub.security.cells import safe_row

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
RATE_LABELS = {"completion": "办结率", "on_time": "按时办结率", "satisfaction": "满意率",
               "reply_speed": "答复速度"}
COLUMNS = ("排名", "单位", "综合得分", "交办量", "答复量", "办结率", "按时办结率", "满意率",
           "评价数", "满意", "基本满意", "不满意", "答复用时中位数(工作日)", "答复用时90分位",
           "退回", "错退", "超期", "重办", "较上期", "连续后三名", "处理")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def rows(payload: dict[str, Any]) -> list[list[Any]]:
    out = []
    for e in payload["entries"]:
        f, r = e["figures"], e["rates"]
        out.append([e["rank"] or "样本过少", e["name"], e["score"], f["assigned"], f["replied"],
                    pct(r["completion"]), pct(r["on_time"]), pct(r["satisfaction"]), f["rated"],
                    f["ratings"]["满意"], f["ratings"]["基本满意"], f["ratings"]["不满意"],
                    f["reply_days_median"], f["reply_days_p90"], f["returned"],
                    f["wrongful_returns"], f["overdue"], f["reopened"],
                    e["movement"], e["bottom3_streak"], e["escalation"] or ""])
    return out


def chart_svg(payload: dict[str, Any], limit: int = 30) -> str:
    ranked = [e for e in payload["entries"] if e["rank"] is not None][:limit]
    if not ranked:
        return "<p>本期没有达到排名门槛的单位。</p>"
    bar_h, label_w, width = 20, 260, 760
    height = bar_h * len(ranked) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="综合得分">']
    for i, e in enumerate(ranked):
        y = i * bar_h + 5
        w = max(1, int((width - label_w - 60) * e["score"] / 100))
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
                     f'{escape(e["name"])}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{bar_h - 6}" '
                     f'fill="#b22222"/><text x="{label_w + w + 4}" y="{y + 14}" '
                     f'font-size="12">{e["score"]:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(payload: dict[str, Any]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    by_code = {e["unit"]: e for e in payload["entries"]}

    def table(codes: list[str]) -> Markup:
        head = "".join(f"<th>{c}</th>" for c in ("名次", "单位", "综合得分", "办结率",
                                                  "按时办结率", "满意率", "答复用时中位数",
                                                  "较上期", "处理"))
        body = []
        for code in codes:
            e = by_code[code]
            move = e["movement"]
            arrow = "—" if move is None else (f'<span class="up">↑{move}</span>' if move > 0
                                              else f'<span class="down">↓{-move}</span>'
                                              if move < 0 else "持平")
            body.append(
                f"<tr><td>{e['rank']}</td><td>{escape(e['name'])}</td><td>{e['score']:.1f}</td>"
                f"<td>{pct(e['rates']['completion'])}</td><td>{pct(e['rates']['on_time'])}</td>"
                f"<td>{pct(e['rates']['satisfaction'])}</td>"
                f"<td>{e['figures']['reply_days_median'] or '—'}</td><td>{arrow}</td>"
                f"<td>{escape(e['escalation'] or '')}</td></tr>")
        return Markup(f"<table><tr>{head}</tr>{''.join(body)}</table>")

    return env.get_template("report.html").render(
        r=payload, chart=Markup(chart_svg(payload)), table=table, pct=pct,
        labels=RATE_LABELS, names={e["unit"]: e["name"] for e in payload["entries"]})


def csv_bytes(payload: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(safe_row(r) for r in rows(payload))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(payload: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "排名"
    sheet.append(list(COLUMNS))
    for row in rows(payload):
        sheet.append(safe_row(row))
    hot = book.create_sheet("热点问题")
    hot.append(["区县", "类别", "关键词", "诉求量", "渠道数", "点赞", "工单"])
    for h in payload.get("hot_issues", []):
        hot.append(safe_row([h["county"], h["category"], h["label"], h["volume"],
                             h["channels"], h["votes"], "、".join(h["cases"])]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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
