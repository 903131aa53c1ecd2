"""A citizen's personal data over its life: `hub privacy find` lists their appeals,
`hub privacy erase` leaves no trace of them in any table, index, quarantined bytes or
stored report; retention anonymises old closed cases; every view of unmasked
contact details is recorded and shown to admins."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text, update
from sqlalchemy.engine import make_url

from hub.cli import main
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import (
    Appeal,
    Case,
    CaseEvent,
    ContactView,
    PrivacyEvent,
    RankingReport,
    Reply,
    RoutingLabel,
    utcnow,
)
from hub.pipeline import ManualTriage, Pipeline
from hub.queue import enqueue, quarantine
from tests.conftest import HOTLINE_KEY
from tests.webutil import csrf_in, login, make_staff

NAME, PHONE = "欧阳娜娜", "13712345678"
ADDRESS = "A7县星沙街道幸福小区3栋502"
TRACES = [NAME, PHONE, "137-1234-5678", "幸福小区3栋502", json.dumps(NAME)[1:-1]]


def _env(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> None:
    for key, value in {"HUB_ENV": "test", "HUB_DATABASE_URL": hub.settings.database_url,
                       "HUB_VAR_DIR": str(hub.settings.var_dir),
                       "HUB_MODEL_PATH": str(hub.settings.model_path)}.items():
        monkeypatch.setenv(key, value)


def _citizen_everywhere(hub: Hub) -> dict[str, int]:
    """Her two appeals (hotline and web), someone else's, her words in a reply, an
    event note, a retraining label, a quarantined GBK page and a stored report."""
    from hub import search
    from hub.ranking.publish import write_files
    from hub.ranking.service import rank

    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [validate_item({
            "external_id": "her-1", "title": "小区燃气泄漏",
            "body": f"我是{NAME}，电话137-1234-5678，住{ADDRESS}，楼道燃气泄漏没人管",
            "contact_name": NAME, "contact_phone": PHONE, "location": ADDRESS,
            "extra": {"caller_name": NAME, "caller_phone": PHONE, "note": f"回电{PHONE}"}})])
        enqueue(s, hub.source_ids["web"], [validate_item({
            "external_id": "her-2", "title": "路灯不亮", "body": "小区门口路灯坏了一个月",
            "contact_name": NAME, "contact_phone": PHONE})])
        enqueue(s, hub.source_ids["web"], [validate_item({
            "external_id": "his-1", "title": "噪音扰民", "body": "A2区某工地夜间施工噪音扰民",
            "contact_name": "李四", "contact_phone": "13900000000"})])
        quarantine(s, hub.source_ids["web"],
                   f"<li>{NAME} {PHONE} 燃气泄漏</li>".encode("gbk"), "layout changed")
        quarantine(s, hub.source_ids["web"], json.dumps({"nickname": NAME}).encode(),
                   "no content")
    Pipeline(hub, ManualTriage()).drain()
    search.index_backlog(hub.sessions)
    with transaction(hub.sessions) as s:
        ids = dict(s.execute(select(Appeal.external_id, Case.id)
                             .join(Case, Case.appeal_id == Appeal.id)).all())
        s.add(Reply(case_id=ids["her-1"], author="zj", body=f"{NAME}您好，已联系燃气公司"))
        s.add(CaseEvent(case_id=ids["her-1"], actor="disp", action="urge",
                        note=f"已电话{PHONE}联系"))
        s.add(RoutingLabel(case_id=ids["her-1"], text=f"我是{NAME} 燃气泄漏", origin="correction",
                           category="城乡建设"))
    period = (utcnow() - timedelta(days=7)).strftime("%G-W%V")
    payload = rank(hub, period)
    payload["hot_issues"] = [{"county": "A7", "category": "城乡建设", "label": f"{NAME} 燃气",
                              "volume": 2, "channels": 2, "votes": 0, "cases": []}]
    with transaction(hub.sessions) as s:
        s.execute(update(RankingReport).where(RankingReport.period == period)
                  .values(payload=payload))
    write_files(payload, hub.settings.var_dir / "reports")
    return ids


def _everything(url: str) -> list[str]:
    """Every row of every table (the search index and its shadow tables included), as
    text; bytes read as UTF-8 and GBK."""
    engine = create_engine(url)
    out: list[str] = []
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                for name in inspect(conn).get_table_names():
                    out += conn.execute(text(f'SELECT CAST(t AS text) FROM "{name}" t')).scalars()
            else:
                names = [r[0] for r in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"))]
                for name in names:
                    for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                        for value in row:
                            if isinstance(value, bytes):
                                out += [value.decode("utf-8", "replace"),
                                        value.decode("gbk", "replace")]
                            else:
                                out.append(str(value))
    finally:
        engine.dispose()
    return out


def test_find_then_erase_leaves_no_trace_of_the_citizen(
        hub: Hub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hub import search

    _citizen_everywhere(hub)
    _env(monkeypatch, hub)
    assert main(["privacy", "find", "--phone", "137 1234 5678"]) == 0
    found = json.loads(capsys.readouterr().out)["appeals"]
    assert len(found) == 2 and {"contact_phone", "body"} <= set(found[0]["matched"])
    assert main(["privacy", "find", "--name", NAME]) == 0
    assert len(json.loads(capsys.readouterr().out)["appeals"]) == 2
    # a name alone may be someone else's: erasing by name needs the appeal ids
    assert main(["privacy", "erase", "--name", NAME, "--by", "张科长", "--reason", "x"]) == 2
    assert main(["privacy", "erase", "--phone", PHONE, "--name", NAME, "--by", "张科长",
                 "--reason", f"公民申请 2026-001（{NAME}本人来电）", "--yes"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["appeals"] == 2 and len(done["cases"]) == 2 and done["quarantined_items"] == 2

    rows = "\n".join(_everything(hub.settings.database_url))
    for trace in TRACES:
        assert trace not in rows, f"{trace!r} is still stored"
    assert rows.count("[已删除]") >= 8
    with hub.sessions() as s:  # her search words find nothing; his appeal is untouched
        for word in (NAME, "娜娜", PHONE, "幸福小区"):
            assert s.scalars(select(Appeal.id).where(search.matching(
                hub.engine.dialect.name, [word]))).all() == [], word
        her = s.scalar(select(Appeal.id).where(Appeal.external_id == "her-1"))
        assert s.scalars(select(Appeal.id).where(search.matching(  # the matter stays
            hub.engine.dialect.name, ["燃气泄漏"]))).all() == [her]
        his = s.scalars(select(Appeal).where(Appeal.external_id == "his-1")).one()
        assert his.contact_name == "李四" and his.anonymised_at is None
        event = s.scalars(select(PrivacyEvent)).one()
        assert event.actor.startswith("张科长 (cli:") and event.appeals == 2
        assert event.reason == "公民申请 2026-001（[已删除]本人来电）"
        assert s.scalars(select(CaseEvent.note).where(CaseEvent.action == "erase")).all() == \
            ["应公民申请删除个人信息：公民申请 2026-001（[已删除]本人来电）"] * 2
    with hub.sessions() as s:  # the report lost her name, not the units' names
        report = s.scalars(select(RankingReport)).one()
        assert report.payload["hot_issues"][0]["label"] == "[已删除] 燃气"
        assert report.payload["entries"] and all(e["name"] for e in report.payload["entries"])
    for path in (hub.settings.var_dir / "reports").iterdir():
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        assert NAME.encode() not in data, path.name
    if hub.engine.dialect.name == "sqlite":  # and not in the file's freed pages either
        db = Path(make_url(hub.settings.database_url).database or "")
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
        for trace in (NAME.encode(), PHONE.encode(), NAME.encode("gbk"), "幸福小区".encode()):
            assert trace not in raw, trace


def test_retention_anonymises_contact_details_of_long_closed_cases(hub: Hub) -> None:
    from hub.scheduler import retention_job

    with transaction(hub.sessions) as s:
        for ext in ("old", "recent", "open"):
            enqueue(s, hub.source_ids["web"], [validate_item({
                "external_id": ext, "title": "噪音", "body": f"工地噪音扰民，请回电{PHONE}",
                "contact_name": NAME, "contact_phone": PHONE, "location": ADDRESS})])
    Pipeline(hub, ManualTriage()).drain()
    with transaction(hub.sessions) as s:
        ids = dict(s.execute(select(Appeal.external_id, Case.id)
                             .join(Case, Case.appeal_id == Appeal.id)).all())
        for ext, months in (("old", 25), ("recent", 3)):
            s.execute(update(Case).where(Case.id == ids[ext]).values(
                state="closed", closed_at=utcnow() - timedelta(days=30.5 * months)))
    assert retention_job(hub) == {"appeals": 1}
    assert retention_job(hub) == {"appeals": 0}  # done once, not again
    with hub.sessions() as s:
        rows = {a.external_id: a for a in s.scalars(select(Appeal))}
        assert rows["old"].contact_name is None and rows["old"].contact_phone is None
        assert rows["old"].location is None and PHONE not in rows["old"].body
        assert rows["old"].anonymised_at is not None
        for ext in ("recent", "open"):
            assert rows[ext].contact_phone == PHONE and PHONE in rows[ext].body
        event = s.scalars(select(PrivacyEvent)).one()
        assert event.action == "retention" and event.appeals == 1 and NAME not in event.reason
    off = Hub.open(hub.settings.with_overrides(retention_months=0), prepare=False)
    try:
        assert retention_job(off) is None
    finally:
        off.close()


async def test_every_unmasked_view_is_recorded_and_admins_see_the_record(client: Any) -> None:
    hub: Hub = client.app["hub"]
    await hub.run(make_staff, hub)
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json=[
        {"external_id": "v-1", "body": "电梯停运一周无人维修", "contact_name": NAME,
         "contact_phone": PHONE},
        {"external_id": "v-2", "body": "站牌倒在路边很危险"},
        {"external_id": "v-3", "body": "路灯坏了，请回电13600001111"}])
    assert resp.status == 200
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    with hub.sessions() as s:
        ids = dict(s.execute(select(Appeal.external_id, Case.id)
                             .join(Case, Case.appeal_id == Appeal.id)).all())
        number = s.get(Case, ids["v-1"]).number  # type: ignore[union-attr]

    await login(client, "op")  # operators see contact details masked: nothing to record
    assert PHONE not in await (await client.get(f"/cases/{ids['v-1']}")).text()
    client.session.cookie_jar.clear()
    await login(client, "disp")
    assert PHONE in await (await client.get(f"/cases/{ids['v-1']}")).text()
    await client.get(f"/cases/{ids['v-2']}")  # no contact details given: nothing shown
    assert "13600001111" in await (await client.get(f"/cases/{ids['v-3']}")).text()
    assert PHONE in await (await client.get(f"/api/v1/staff/cases/{ids['v-1']}")).text()
    assert PHONE in await (await client.get("/inbox/export.csv")).text()
    with hub.sessions() as s:
        views = [(v.username, v.case_id, v.via) for v in
                 s.scalars(select(ContactView).order_by(ContactView.id))]
    assert views[:3] == [("disp", ids["v-1"], "page"), ("disp", ids["v-3"], "page"),
                         ("disp", ids["v-1"], "api")]  # a phone in the text is identity too
    assert sorted(views[3:]) == [("disp", ids["v-1"], "export"), ("disp", ids["v-3"], "export")]
    assert (await client.get("/admin/contact-views")).status == 403
    client.session.cookie_jar.clear()
    await login(client, "adm")
    page = await client.get("/admin/contact-views", params={"case": number})
    html = await page.text()
    assert page.status == 200 and html.count(f">{number}</a>") == 3
    assert "工单页面" in html and "导出" in html and "接口" in html and "disp" in html
    assert PHONE not in html and NAME not in html
    assert csrf_in(html)
