"""One bar chart per indicator, as inline SVG that reads aloud and prints.

Each chart names itself (``<title>``) and says what it shows (``<desc>``: the city
figure, the best and the worst unit) for screen readers; every bar carries its unit,
value and counts as text, so nothing depends on colour, and dark grey bars on white
survive a black-and-white printer. Sizes are in the viewBox: the chart scales to the
page (A4 included).
"""

from __future__ import annotations

from html import escape
from typing import Any

from hub.ranking.score import INDICATORS

WIDTH, LABEL_W, VALUE_W, BAR_H, HEAD_H = 720, 200, 150, 18, 22


def _counts(name: str, f: dict[str, Any]) -> str:
    pairs = {"sign": ("sign_on_time", "sign_due"), "on_time": ("due_on_time", "due"),
             "completion": ("due_closed", "due"), "satisfaction": ("satisfied", "rated"),
             "resolution": ("resolved", "resolution_asked"),
             "returns": ("wrongful_returns", "assigned"), "redo": ("reopened", "replied")}
    num, den = pairs[name]
    return f"{f[num]}/{f[den]}"


def indicator_charts(payload: dict[str, Any]) -> list[dict[str, str]]:
    """[{name, label, svg}] for each indicator some charted unit has a value for."""
    out = []
    for name, ind in INDICATORS.items():
        rows = _rows(payload, lambda e, n=name: e["rates"].get(n),  # type: ignore[misc]
                     lambda e, n=name: _counts(n, e["figures"]))  # type: ignore[misc]
        if rows:
            city = payload["city_rates"].get(name)
            out.append({"name": name, "label": ind.label,
                        "svg": _svg(f"chart-{name}", ind.label, rows, city, 1.0, True,
                                    ind.higher_is_better)})
    rows = _rows(payload, lambda e: e["figures"]["reply_days_median"],
                 lambda e: f"{e['figures']['replies_timed']}件")
    if rows:
        top = max(v for _, _, _, v, _ in rows) or 1.0
        out.append({"name": "reply_days", "label": "答复用时中位数（工作日）",
                    "svg": _svg("chart-reply_days", "答复用时中位数（工作日）", rows,
                                payload["city_totals"].get("reply_days_median"), top, False,
                                False)})
    return out


def _rows(payload: dict[str, Any], value: Any, counts: Any) -> list[tuple[Any, ...]]:
    """(tier title, unit name, unit code, value, counts) of ranked units in charted tiers."""
    rows = []
    for tier in payload["tiers"]:
        if not tier["chart"]:
            continue
        mine = [(tier["title"], e["name"], e["unit"], value(e), counts(e))
                for e in tier["entries"] if e["status"] == "ranked" and value(e) is not None]
        rows += sorted(mine, key=lambda r: (-r[3], r[2]))
    return rows


def _svg(ident: str, label: str, rows: list[tuple[Any, ...]], city: float | None,
         scale: float, percent: bool, higher_is_better: bool) -> str:
    def shown(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{100 * v:.1f}%" if percent else f"{v:.2f}"

    tiers = list(dict.fromkeys(r[0] for r in rows))
    height = len(rows) * BAR_H + len(tiers) * HEAD_H + 30
    span = WIDTH - LABEL_W - VALUE_W
    best = max(rows, key=lambda r: (r[3] if higher_is_better else -r[3], r[2]))
    worst = min(rows, key=lambda r: (r[3] if higher_is_better else -r[3], r[2]))
    desc = (f"{label}，全市{shown(city)}。{len(rows)}个单位中，"
            f"最好的是{best[1]}（{shown(best[3])}），最差的是{worst[1]}（{shown(worst[3])}）。"
            "各单位的数字和件数见图中文字及上方表格。")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" '
             f'class="chart" font-size="12">',
             f'<title id="{ident}-t">{escape(label)}</title>',
             f'<desc id="{ident}-d">{escape(desc)}</desc>']
    y = 4
    for tier in tiers:
        parts.append(f'<text x="0" y="{y + 15}" font-weight="bold">{escape(tier)}</text>')
        y += HEAD_H
        for _, name, _code, value, counts in (r for r in rows if r[0] == tier):
            w = max(1, round(span * min(value / scale, 1.0))) if scale else 1
            parts.append(
                f'<g><title>{escape(name)}：{shown(value)}（{escape(counts)}）</title>'
                f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>'
                f'<rect x="{LABEL_W}" y="{y + 2}" width="{w}" height="{BAR_H - 5}" '
                f'fill="#4a4a4a"/>'
                f'<text x="{LABEL_W + w + 4}" y="{y + 13}">{shown(value)}（{escape(counts)}）'
                f'</text></g>')
            y += BAR_H
    if city is not None and scale:
        x = LABEL_W + round(span * min(city / scale, 1.0))
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{y}" stroke="#000" '
                     f'stroke-dasharray="4 3"/>'
                     f'<text x="{x}" y="{y + 16}" text-anchor="middle">全市 {shown(city)}</text>')
    parts.append("</svg>")
    return "".join(parts)
