"""The dispatch catalogue (派单目录): versioned lines with effective dates, the most
specific line in force wins, a revision imported from a spreadsheet applies from its
day without retraining, every error reported by row; the page for admins only."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from classifiers.router import Router
from hub.catalogue import store
from hub.catalogue.lookup import Catalogue, FinerCategories, Line
from hub.db import transaction
from hub.models import DispatchEntry, utcnow
from tests.webutil import csrf_in, login, make_staff

TREE = [("城乡建设", "城市建设和市政管理", "园林绿化环卫"),
        ("城乡建设", "城市建设和市政管理", "市政设施"),
        ("城乡建设", "住房保障", "物业服务 业主委员会"),
        ("交通运输", "公共交通", "公交线路")]
LAMP = "A3区幸福路市政设施损坏，路灯坏了一个月没人修"


def test_finer_category_from_the_tree_words() -> None:
    finer = FinerCategories(TREE)
    assert finer.guess(LAMP, "城乡建设") == ("城市建设和市政管理", "市政设施")
    assert finer.guess("小区业主委员会换届选举有问题", "城乡建设") == ("住房保障", "业主委员会")
    assert finer.guess("什么都没说", "城乡建设") == (None, None)
    assert finer.guess(LAMP, "没有的分类") == (None, None)


def test_the_most_specific_line_in_force_wins() -> None:
    jan, jul = date(2027, 1, 1), date(2027, 7, 1)
    cat = Catalogue([
        Line("城乡建设", None, None, None, "zhujian", jan, None),
        Line("城乡建设", "城市建设和市政管理", None, None, "chengguan", jan, None),
        Line("城乡建设", "城市建设和市政管理", "市政设施", None, "A3-zhujian", jan, jul),
        Line("城乡建设", "城市建设和市政管理", "市政设施", "A5", "A5-zhujian", jan, None),
    ])
    sub = "城市建设和市政管理"
    assert cat.unit_for("城乡建设", sub, "市政设施", "A3", date(2027, 3, 1)).unit == "A3-zhujian"
    assert cat.unit_for("城乡建设", sub, "市政设施", "A5", date(2027, 3, 1)).for_county
    # the third-level line ended on 07-01: the second level answers from then on
    later = cat.unit_for("城乡建设", sub, "市政设施", "A3", jul)
    assert (later.unit, later.level) == ("chengguan", "二级")
    assert cat.unit_for("城乡建设", None, None, None, jul).unit == "zhujian"
    assert cat.unit_for("城乡建设", None, None, None, date(2026, 12, 31)) is None  # not yet
    assert cat.unit_for("交通运输", None, None, None, jul) is None


def add(hub: Any, fields: dict[str, str], start: date, actor: str = "adm") -> DispatchEntry:
    with transaction(hub.sessions) as s:
        line = store.add_line(s, hub.config, actor, fields, start)
        s.expunge(line)
        return line


def test_a_new_line_ends_the_old_one_and_history_stays(hub: Any) -> None:
    key = {"category": "城乡建设", "subcategory": "城市建设和市政管理", "item": "市政设施"}
    add(hub, {**key, "unit": "zhujian"}, date(2027, 1, 1))
    add(hub, {**key, "unit": "A市交通运输局"}, date(2027, 7, 1))  # by name
    with hub.sessions() as s:
        lines = list(s.scalars(select(DispatchEntry).order_by(DispatchEntry.id)))
        cat = store.snapshot(s, date(2027, 1, 1))
    assert [(x.unit_code, x.effective_from, x.effective_to) for x in lines] == [
        ("zhujian", date(2027, 1, 1), date(2027, 7, 1)), ("jiaotong", date(2027, 7, 1), None)]
    assert lines[0].ended_by == "adm"
    sub, item = "城市建设和市政管理", "市政设施"
    assert cat.unit_for("城乡建设", sub, item, None, date(2027, 6, 30)).unit == "zhujian"
    assert cat.unit_for("城乡建设", sub, item, None, date(2027, 7, 1)).unit == "jiaotong"


@pytest.mark.parametrize("fields, why", [
    ({"category": "没有这类", "unit": "zhujian"}, "没有一级分类"),
    ({"category": "城乡建设", "unit": "nowhere"}, "没有承办单位"),
    ({"category": "城乡建设", "unit": ""}, "请填写承办单位"),
    ({"category": "城乡建设", "item": "市政设施", "unit": "zhujian"}, "二级分类"),
    ({"category": "城乡建设", "county": "Z9", "unit": "zhujian"}, "没有县区"),
    ({"category": "城乡建设", "subcategory": "长" * 61, "unit": "zhujian"}, "过长"),
])
def test_a_bad_line_is_refused_in_chinese(hub: Any, fields: dict[str, str], why: str) -> None:
    with transaction(hub.sessions) as s, pytest.raises(store.CatalogueError, match=why):
        store.add_line(s, hub.config, "adm", fields, date(2027, 1, 1))


def xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)  # type: ignore[union-attr]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HEADER = ["一级分类", "二级分类", "三级分类", "县区", "承办单位"]


def test_a_revision_from_a_spreadsheet_replaces_the_lines_from_its_day(hub: Any) -> None:
    add(hub, {"category": "城乡建设", "unit": "zhujian"}, date(2026, 1, 1))
    add(hub, {"category": "交通运输", "unit": "jiaotong"}, date(2026, 1, 1))
    rows = store.read_sheet("2027.xlsx", xlsx([
        HEADER, ["城乡建设", "城市建设和市政管理", "市政设施", "", "A市住房和城乡建设局"],
        ["城乡建设", "", "", "", "zhujian"], [], ["交通运输", "", "", "A3", "jiaotong"]]))
    assert len(rows) == 3  # the empty row is skipped
    with transaction(hub.sessions) as s:
        assert store.import_revision(s, hub.config, "adm", rows, date(2027, 1, 1)) == 3
    with hub.sessions() as s:
        cat = store.snapshot(s, date(2026, 6, 1))
    day = date(2027, 1, 2)
    assert cat.unit_for("交通运输", None, None, None, date(2026, 6, 1)).unit == "jiaotong"
    assert cat.unit_for("交通运输", None, None, None, day) is None  # ended, not renewed
    assert cat.unit_for("交通运输", None, None, "A3", day).unit == "jiaotong"
    assert cat.unit_for("城乡建设", "城市建设和市政管理", "市政设施", None, day).unit == "zhujian"


def test_a_revision_with_errors_applies_nothing_and_names_each_row(hub: Any) -> None:
    add(hub, {"category": "城乡建设", "unit": "zhujian"}, date(2026, 1, 1))
    csv_bytes = ("一级分类,承办单位\n城乡建设,zhujian\n没有这类,zhujian\n城乡建设,zhujian\n"
                 "交通运输,nowhere\n").encode("gb18030")
    rows = store.read_sheet("2027.csv", csv_bytes)  # GBK, as Excel saves CSV in China
    with transaction(hub.sessions) as s, pytest.raises(store.CatalogueError) as err:
        store.import_revision(s, hub.config, "adm", rows, date(2027, 1, 1))
    assert "第 3 行" in str(err.value) and "第 4 行：与第 2 行重复" in str(err.value)
    assert "第 5 行" in str(err.value)
    with hub.sessions() as s:
        assert s.scalar(select(DispatchEntry.effective_to)) is None  # the old line stands
    for name, data, why in (("x.csv", b"", "空"), ("x.csv", "承办单位\nzhujian\n".encode(),
                                                   "缺少列"),
                            ("x.xlsx", b"PK\x03\x04 not a workbook", "Excel"),
                            ("x.csv", b"\xff\xfe\x00\xd8", "编码")):
        with pytest.raises(store.CatalogueError, match=why):
            store.read_sheet(name, data)


def test_the_router_dispatches_by_the_catalogue_from_its_day(hub: Any, seed_model: Any) -> None:
    from classifiers.model import CategoryClassifier

    router = Router(hub.config, CategoryClassifier.load(seed_model), set(hub.unit_ids))
    router.threshold = 0.0  # the seed model's confidence is not what is tested here
    text = "A3区幸福路路灯坏了一个月没人修，晚上出行很不方便"
    before = router.route(text, date(2027, 3, 1))
    assert before.category == "城乡建设" and before.unit_code == "A3-zhujian"  # [categories]
    add(hub, {"category": "城乡建设", "subcategory": "市政设施", "item": "路灯",
              "unit": "chengguan"}, date(2027, 3, 1))
    add(hub, {"category": "城乡建设", "unit": "ziranziyuan"}, date(2027, 4, 1))
    with hub.sessions() as s:
        router.use_catalogue(store.snapshot(s, date(2027, 1, 1)), store.signature(s))
    lamp = router.route(text, date(2027, 3, 2))
    # an any-area line still goes to the named county's own department
    assert lamp.unit_code == router.unit_for("chengguan", "A3")
    assert lamp.unit_code.endswith("chengguan") and lamp.suggestions[0]["via"] == "目录三级"
    assert lamp.suggestions[0]["item"] == "路灯"
    other = router.route("A3区某小区违章建筑没人管", date(2027, 3, 2))
    assert other.unit_code == "A3-zhujian"  # no line for it yet: [categories]
    later = router.route("A3区某小区违章建筑没人管", date(2027, 4, 2))
    assert later.suggestions[0]["via"] == "目录一级"
    assert later.unit_code == router.unit_for("ziranziyuan", "A3")


async def test_admins_edit_the_catalogue_dispatchers_read_it(client: Any) -> None:
    hub = client.server.app["hub"]
    make_staff(hub)
    token = await login(client, "adm")
    resp = await client.post("/admin/catalogue", data={
        "csrf": token, "category": "城乡建设", "subcategory": "市政设施", "item": "路灯",
        "county": "", "unit": "zhujian", "from": "2026-01-01"}, allow_redirects=False)
    assert resp.status == 303
    bad = await client.post("/admin/catalogue", data={
        "csrf": token, "category": "城乡建设", "unit": "zhujian", "from": "明天"})
    assert bad.status == 422 and "生效日期" in await bad.text()
    form = {"csrf": token, "from": "2026-02-01"}
    import aiohttp

    upload = aiohttp.FormData(form)
    upload.add_field("file", xlsx([HEADER, ["交通运输", "", "", "", "jiaotong"]]),
                     filename="目录.xlsx")
    resp = await client.post("/admin/catalogue/import", data=upload, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    page = await (await client.get("/admin/catalogue")).text()
    assert 'id="catalogue-history"' in page and "路灯" in page and "交通运输局" in page
    await client.post("/logout", data={"csrf": csrf_in(page)})
    client.session.cookie_jar.clear()
    token = await login(client, "disp")
    page = await (await client.get("/admin/catalogue")).text()
    assert "catalogue-current" in page and "catalogue-add" not in page
    refused = await client.post("/admin/catalogue", data={
        "csrf": token, "category": "城乡建设", "unit": "zhujian", "from": "2026-01-01"})
    assert refused.status == 403


def test_the_pipeline_follows_a_line_added_while_it_runs(hub: Any) -> None:
    """A running pipeline (its router loaded before the line existed) dispatches the
    next batch by the new line: no restart, no retraining."""
    from classifiers.router import load_router
    from hub.intake_schema import validate_item
    from hub.models import Case
    from hub.pipeline import Pipeline
    from hub.queue import enqueue

    pipeline = Pipeline(hub, load_router(hub))
    assert pipeline.router.catalogue is not None and len(pipeline.router.catalogue) == 0
    today = pipeline.cases.calendar.local_date(utcnow())
    add(hub, {"category": "城乡建设", "subcategory": "市政设施", "item": "路灯",
              "unit": "chengguan"}, today)
    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [validate_item(
            {"external_id": "lamp-1", "body": "A3区幸福路路灯坏了一个月没人修，晚上出行很不方便"})])
    pipeline.drain()
    with hub.sessions() as s:
        case = s.scalars(select(Case)).one()
    assert case.suggestions[0]["via"] == "目录三级", case.suggestions
    assert case.suggestions[0]["unit"] == pipeline.router.unit_for("chengguan", "A3")


def test_two_admins_saving_one_key_at_once_leave_one_line_in_force(hub: Any) -> None:
    """Each saw no line to end and both opened one (PostgreSQL); now one waits."""
    from tests.concurrency import together

    key = {"category": "城乡建设", "subcategory": "城市建设和市政管理", "item": "市政设施"}
    _, errors = together(lambda: add(hub, {**key, "unit": "zhujian"}, date(2027, 1, 1)), n=8)
    assert not errors, errors
    with hub.sessions() as s:
        open_lines = list(s.scalars(select(DispatchEntry).where(
            DispatchEntry.effective_to.is_(None))))
        every = s.scalar(select(func.count()).select_from(DispatchEntry))
    assert len(open_lines) == 1 and every == 8


def test_a_spreadsheet_that_unpacks_to_gigabytes_is_refused_unread() -> None:
    """An XLSX is a zip: 30 MiB of one byte packs into ~30 KiB. Refused by what the
    archive declares, before openpyxl inflates anything; a real sheet still reads."""
    import zipfile

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (30 * 2**20))
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(store.CatalogueError, match="解压后过大"):
        store.read_sheet("目录.xlsx", bomb.getvalue())
    book = Workbook()
    book.active.append(["一级分类", "二级分类", "三级分类", "县区", "承办单位"])
    book.active.append(["城乡建设", "", "", "", "zhujian"])
    real = io.BytesIO()
    book.save(real)
    assert store.read_sheet("目录.xlsx", real.getvalue())[0]["unit"] == "zhujian"
