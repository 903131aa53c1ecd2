"""Published rankings: the same bytes on every re-run and hash seed, no personal data
in any file, hot-issue labels that are private and stable, the citizens' report's
structure (read without a browser), the XLSX's fixed timestamps and the site."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from classifiers.decision import RouteDecision
from hub.core import Hub
from hub.db import transaction
from hub.lifecycle.service import CaseService
from hub.models import Appeal, RankingReport
from hub.ranking.hot import label_words
from hub.ranking.publish import csv_bytes, render_html, write_files, xlsx_bytes
from hub.ranking.service import rank
from hub.settings import REPO_ROOT
from tests.test_ranking import at, entry, report, week

BIN = Path(sys.executable).parent
PERSON = "李建华"
PHONES = ("13912345678", "139-1234-5678", "139 1234 5678", "+86 139 1234 5678",
          "１３９１２３４５６７８", "0731-84561234", "（0731）84561234")
ID_NUMBER = "430102199001011234"
# one citizen reporting the same matter again and again, name and number in the text;
# a second whose name appears only in the text (no contact name given)
LEAKY = [
    (PERSON, f"我是{PERSON}，电话{PHONES[0]}，A3区幸福小区停水三天了，自来水公司一直没人来修"),
    (PERSON, f"{PERSON}反映：A3区幸福小区停水三天，自来水公司不来修，联系电话{PHONES[1]}"),
    (PERSON, f"本人{PERSON}（身份证{ID_NUMBER}）A3区幸福小区停水三天，自来水公司没人管 "
             f"{PHONES[3]}"),
    (PERSON, f"A3区幸福小区停水第三天，自来水公司电话打不通，{PERSON} {PHONES[4]} "
             f"座机{PHONES[5]} 或 {PHONES[2]} {PHONES[6]}"),
    (None, "王秀英反映A1区桂花路路灯不亮半个月，晚上出行很危险，王秀英电话13700001111"),
    (None, "A1区桂花路路灯不亮半个月了，王秀英家门口一片漆黑，出行危险，请尽快修复"),
    (None, "王秀英：A1区桂花路路灯坏了半个月不亮，晚上出行危险，联系13700001111"),
]
SECRETS = (PERSON, "建华", "王秀英", "秀英", *PHONES, ID_NUMBER, "13700001111", "84561234",
           "1234 5678", "1234-5678", "****")


def leaky_cluster(hub: Hub) -> None:
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:
        for i, (name, body) in enumerate(LEAKY):
            county = "A3" if "A3区" in body else "A1"
            appeal = Appeal(source_id=hub.source_ids["web" if i % 2 else "hotline-push"],
                            external_id=f"leak-{i}", received_at=at(29, 9 + i), votes=i,
                            title=body[:14], body=body, contact_name=name,
                            contact_phone=PHONES[0] if name else None, state="done")
            s.add(appeal)
            s.flush()
            decision = RouteDecision("城乡建设", "zhujian", county, 0.9, False, [])
            svc.open_case(s, appeal, decision, now=appeal.received_at)


def outputs(folder: Path) -> dict[str, str]:
    """Every file's text; an XLSX's text is all the XML in its package."""
    texts = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                texts[path.name] = "".join(z.read(n).decode("utf-8") for n in z.namelist())
        else:
            texts[path.name] = path.read_bytes().decode("utf-8")
    return texts


def test_no_personal_data_in_any_output(hub: Hub, tmp_path: Path) -> None:
    week(hub, min_cases=1)
    leaky_cluster(hub)
    payload = report(hub)
    labels = [h["label"] for h in payload["hot_issues"] if h["county"] != "全市"]
    assert len(labels) == 2, payload["hot_issues"]  # (and the fixture's own 停水 cases)
    assert any("停水" in x or "自来水" in x for x in labels), labels  # still says what
    assert any("灯" in x for x in labels), labels
    write_files(payload, tmp_path / "out")
    texts = outputs(tmp_path / "out")
    assert set(texts) == {f"ranking-2026-W40.{x}" for x in ("csv", "html", "json", "xlsx")}
    for name, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, (name, secret)
        assert "张三" not in text and "13800001111" not in text, name  # the fixture's own


def test_labels_ignore_names_and_numbers_and_break_ties_by_the_word() -> None:
    texts = ["我是赵大明，电话13812345678，东区停电", "赵大明：东区停电两天", "东区停电 赵大明"]
    assert label_words(texts, ["赵大明"]) == ["东区", "停电"]
    # four words each in two of three texts: the tie is broken by the word, not by hashing
    code = ("from hub.ranking.hot import label_words;"
            "print(label_words(['甲方 乙方 丙方 丁方 戊方', '甲方 乙方 丙方 丁方 戊方', '其他']))")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=REPO_ROOT,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("0", "1", "4242")}
    assert len(seen) == 1 and seen.pop().count("方") == 4


def _config_with(tmp_path: Path, min_cases: int) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", folder)
    ranking = folder / "ranking.toml"
    text = re.sub(r"(?m)^min_cases = \d+", f"min_cases = {min_cases}",
                  ranking.read_text(encoding="utf-8"))
    ranking.write_text(text, encoding="utf-8")
    return folder


def test_same_bytes_across_hash_seeds_and_re_runs(hub: Hub, tmp_path: Path) -> None:
    week(hub, min_cases=1)
    leaky_cluster(hub)
    env = {**os.environ, "HUB_DATABASE_URL": hub.settings.resolved_database_url,
           "HUB_VAR_DIR": str(tmp_path / "var"), "HUB_ENV": "test",
           "HUB_CONFIG_DIR": str(_config_with(tmp_path, 1)),
           "HUB_MODEL_PATH": str(hub.settings.resolved_model_path)}
    runs = []
    for number, (seed, extra) in enumerate((("0", ["--recompute"]), ("1", ["--recompute"]),
                                            ("987654", []), ("42", []))):
        out = tmp_path / f"run{number}"
        done = subprocess.run([str(BIN / "hub"), "rank", "--period", "2026-W40", "--out",
                               str(out), *extra], env={**env, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["period"] == "2026-W40"
        runs.append({p.name: p.read_bytes() for p in out.iterdir()})
    # seeds 0 and 1 recompute; the third stores the closed week, the fourth reads it back
    assert len(runs[0]) == 4 and all(run == runs[0] for run in runs[1:])
    data = json.loads(runs[0]["ranking-2026-W40.json"])
    assert data["hot_issues"] and entry(data, "zhujian")["rank"] is not None


def test_xlsx_has_fixed_times_and_the_figures(hub: Hub) -> None:
    week(hub, min_cases=1)
    payload = report(hub)
    data = xlsx_bytes(payload)
    assert data == xlsx_bytes(payload)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 10, 4, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert core.count("2026-10-04T00:00:00Z") == 2  # created and modified
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["排名", "全市概况", "热点问题", "指标说明"]
    sheet = book["排名"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["层级", "名次", "单位", "状态"] and sheet.max_row == len(
        payload["entries"]) + 1
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True)
               if r[2] == "A市住房和城乡建设局")
    assert row[header.index("应办结")] == 3 and row[header.index("按期答复")] == 1
    assert abs(row[header.index("按期答复率")] - 1 / 3) < 1e-3
    csv_text = csv_bytes(payload).decode("utf-8-sig")
    assert "已排名" in csv_text and "无交办" in csv_text


class Page(HTMLParser):
    """Tags, ids, text and the attributes charts and tables need, without a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False if tag == "style" else self._in_style

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def test_the_citizens_report_reads_like_a_bulletin(hub: Hub) -> None:
    week(hub, min_cases=1)
    before = report(hub, "2026-W39", hot=False)
    payload = report(hub, previous=before)
    page = Page()
    page.feed(render_html(payload))
    text = "".join(page.text)
    assert page.find("html", lang="zh-CN")
    assert "2026年第40周（9月28日—10月4日）" in text and "群众诉求办理情况通报" in text
    for section in ("summary", "tiers", "charts", "lists", "method"):
        assert page.find("section", id=section), section
    # city totals with the counts behind every rate, and the change against last week
    assert "全市共受理群众诉求5件" in text and "满意率75.0%" in text
    assert "评价4件" in text and "与上期（2026年第39周）相比" in text
    assert page.find("th", scope="col") and page.find("th", scope="row")
    # a table per tier; rates with their counts; idle units named, not scored
    assert {a["data-tier"] for a in page.find("table", **{"class": "ranking"})} == {
        "department", "enterprise"}
    assert "33.3%" in text and "1/3" in text and "无交办（不评分）" in text
    zj = [a for a in page.find("tr") if a.get("data-unit") == "zhujian"]
    assert zj and zj[0]["data-status"] == "ranked"
    # one accessible chart per indicator: role img, named by its own title and desc
    svgs = page.find("svg")
    assert len(svgs) == 7  # sign, on time, completion, satisfaction, returns, redo, days
    ids = {a.get("id") for _, a in page.tags}
    for svg in svgs:
        assert svg["role"] == "img" and svg["viewbox"].startswith("0 0 ")
        assert all(ref in ids for ref in svg["aria-labelledby"].split())
    assert len(page.find("title")) > len(svgs) and len(page.find("desc")) == len(svgs)
    # the worst list with its reasons, the method in plain words, and print CSS for A4
    assert page.find("ol", **{"class": "worst"}) and page.find("ol", **{"class": "reasons"})
    for name in ("应办结", "按期答复率", "办结率", "签收及时率", "满意率", "回退率", "重办率",
                 "答复不等于办结"):
        assert name in text, name
    assert "@media print" in page.style and "size:A4" in page.style


def test_a_closed_week_is_published_once_and_old_layouts_stay(hub: Hub,
                                                              tmp_path: Path) -> None:
    ids = week(hub)
    first = rank(hub, "2026-W40", recompute=True)
    svc = CaseService(hub.config, hub.unit_ids)
    with transaction(hub.sessions) as s:  # later work on the same cases
        svc.assign(s, ids["t1"], "zhujian", "d", now=at(12, 9, month=10))
        z3 = svc.load(s, ids["z3"])
        svc.rate(s, z3.number, z3.query_code, "满意", now=at(12, 10, month=10))
    stored = rank(hub, "2026-W40", out_dir=tmp_path)
    assert stored == first == rank(hub, "2026-W40", recompute=True)
    with transaction(hub.sessions) as s:  # a report an earlier version published
        s.add(RankingReport(period="2026-W30", payload={"period": "2026-W30", "entries": []},
                            generated_at=at(27, 7, month=7)))
    fresh = rank(hub, "2026-W30", out_dir=tmp_path)
    assert fresh["format"] == 2 and (tmp_path / "ranking-2026-W30.html").exists()
    with hub.sessions() as s:
        from hub.ranking.report import stored as kept
        assert kept(s, "2026-W30") == {"period": "2026-W30", "entries": []}  # not rewritten


async def test_published_report_opens_on_the_site(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(week, hub, 1)
    await hub.run(rank, hub, "2026-W40")
    index = await (await client.get("/reports")).text()
    assert "2026年第40周（9月28日—10月4日）" in index
    page = await client.get("/reports/2026-W40")
    html = await page.text()
    assert page.status == 200 and "<svg" in html and "最难办事榜" in html
    xlsx = await client.get("/reports/2026-W40.xlsx")
    assert load_workbook(io.BytesIO(await xlsx.read()))["排名"].max_row > 1
    data = await (await client.get("/reports/2026-W40.json")).json()
    assert data["period"] == "2026-W40"
    assert (await client.get("/reports/2026-W41")).status == 404
    names = {e["unit"]: e["name"] for e in data["entries"]}
    assert all(names[u] in html for u in data["best"] + data["worst"])
    with transaction(hub.sessions) as s:
        s.add(RankingReport(period="2026-W30", payload={"period": "2026-W30"},
                            generated_at=at(27, 7, month=7)))
    old = await client.get("/reports/2026-W30")
    assert old.status == 200 and "旧版格式" in await old.text()
    assert (await (await client.get("/reports/2026-W30.json")).json())["period"] == "2026-W30"
