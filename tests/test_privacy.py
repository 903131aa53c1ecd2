"""Personal data in free text, and whistleblowers: every form a citizen writes a phone,
landline, e-mail, ID number or their own name in is masked wherever the role should
not see it (pages, exports, the public look-up, published reports, logs); a
misconduct report never reaches the unit it accuses."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import transaction
from hub.models import Case, CaseEvent
from hub.pipeline import Pipeline
from hub.privacy import install_log_masking, mask_name, mask_phone, mask_text
from tests.conftest import HOTLINE_KEY
from tests.webutil import PASSWORD, csrf_in, login, logout, make_staff

MASKING = [  # (written by a citizen, must not survive, what remains)
    ("我的电话13812345678请回电", "13812345678", "138****5678"),
    ("电话：+86 138 1234 5678", "1234 5678", "+86 138****5678"),
    ("手机86-138-1234-5678", "1234-5678", "138****5678"),
    ("联系0086 13812345678", "13812345678", "138****5678"),
    ("手机：138.1234.5678", "1234.5678", "138****5678"),
    ("１３８１２３４５６７８", "１２３４", "138****5678"),
    ("手机１３８－１２３４－５６７８", "１２３４", "138****5678"),
    ("座机0731-84561234", "8456", "0731-****1234"),
    ("电话（0731）84561234", "8456", "****1234"),
    ("010 1234 5678找我", "1234 5678", "****5678"),
    ("邮箱zhangsan@qq.com", "zhangsan", "z***@qq.com"),
    ("zhang.san＠163.com", "zhang.san", "z***@163.com"),
    ("身份证430102199001011234", "19900101", "430102********1234"),
    ("身份证号43010219900101123X", "19900101", "430102********123X"),
    ("身份证 430102 1990 0101 123x", "1990 0101", "430102********123x"),
    ("旧身份证430102900101123", "900101", "430102*****1123"),
    ("我是张三，住在A3区", "张三", "我是张*"),
    ("我叫李四，反映小区问题", "李四", "我叫李*"),
    ("本人王小明，男，今年50岁", "王小明", "本人王**"),
    ("举报人：赵六", "赵六", "举报人：赵*"),
    ("投诉人 欧阳娜娜 电话13900001111", "欧阳娜娜", "投诉人 欧阳**"),
    ("反映人：陈建国。", "陈建国", "反映人：陈**"),
    ("我的名字是孙丽", "孙丽", "我的名字是孙*"),
    ("姓名：周杰，电话：13912345678", "周杰", "姓名：周*"),
]
UNTOUCHED = ["我是A3区居民", "我是一名退休教师", "本人于2019年购房", "工单20261130000001已受理",
             "日期2026-11-30 13:45", "拨打12345热线", "客服400-800-1234", "面积86.5平米",
             "我是小区业主", "本人在此反映"]


@pytest.mark.parametrize(("written", "secret", "kept"), MASKING)
def test_free_text_masking(written: str, secret: str, kept: str) -> None:
    masked = mask_text(written)
    assert secret not in masked and kept in masked, masked
    assert mask_text(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize("written", UNTOUCHED)
def test_text_without_personal_data_is_left_alone(written: str) -> None:
    assert mask_text(written) == written


def test_addresses_keep_only_their_district_or_street() -> None:
    from hub.privacy import mask_location

    assert mask_location("A3区含浦街道幸福小区5栋301室") == "A3区***"
    assert mask_location("王建国家门口") == "***"
    assert mask_location("A3区") == "A3区"


def test_contact_fields() -> None:
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("１３８１２３４５６７８") == "138****5678"
    assert mask_phone("0731-84561234") == "********1234"
    assert mask_name("欧阳娜娜") == "欧阳**" and mask_name("王五") == "王*"


def test_log_lines_are_masked() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("hub.test-privacy")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    install_log_masking(logger)
    try:
        logger.warning("call back %s at %s", "我叫张三", "138 1234 5678")
        try:
            raise ValueError("bad row: 身份证430102199001011234 zhangsan@qq.com")
        except ValueError:
            logger.exception("import failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    for secret in ("张三", "1234 5678", "19900101", "zhangsan@"):
        assert secret not in out, out
    assert "138****5678" in out and "z***@qq.com" in out


BODY = ("我叫王建国，身份证430102199001011234，手机+86 139-0000-1111，邮箱wjg@163.com，"
        "座机0731-84561234。A3区含浦街道某小区路灯坏了一个月。")


async def test_no_role_without_need_sees_personal_data(client: Any) -> None:
    """An operator's case page, list, export and JSON; the public look-up; a reply that
    repeats the number: nothing of the citizen's identity survives."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "p-1", "title": "我叫王建国，电话13900001111", "body": BODY,
        "contact_name": "王建国", "contact_phone": "13900001111",
        "location": "A3区含浦街道幸福小区5栋301室"})
    assert resp.status == 201
    await hub.run(Pipeline(hub, client.app["router"]).drain)
    svc = client.app["case_service"]

    def reply() -> tuple[int, str, str]:
        with transaction(hub.sessions) as s:
            case = s.scalar(select(Case))
            if case.state == "triage":
                svc.assign(s, case.id, "A3-zhujian", "test")
            svc.sign(s, case.id, "unit")
            svc.reply(s, case.id, "unit", "已电话联系王建国（13900001111），路灯已修复。")
            # rated: no call-back pending (an operator sees the phone only to make a
            # pending 回访 call, tests/test_callbacks.py)
            svc.rate(s, case.number, case.query_code, "满意")
            return case.id, case.number, case.query_code

    case_id, number, code = await hub.run(reply)
    secrets = ("王建国", "13900001111", "0000-1111", "19900101", "wjg@", "84561234",
               "5栋301")
    csrf = await login(client, "op")
    seen = [await (await client.get(f"/cases/{case_id}")).text(),
            await (await client.get("/inbox")).text(),
            (await (await client.get("/inbox/export.csv")).read()).decode("utf-8-sig"),
            await (await client.get(f"/api/v1/staff/cases/{case_id}")).text()]
    await logout(client, csrf)
    seen.append(await (await client.get(f"/api/v1/cases/{number}", params={"code": code}))
                .text())
    page = await (await client.get("/lookup")).text()
    seen.append(await (await client.post("/lookup", data={
        "csrf": csrf_in(page), "number": number, "code": code})).text())
    for text in seen:
        for secret in secrets:
            assert secret not in text, (secret, text[:300])
    # the dispatcher, who needs them, still sees them
    await login(client, "disp")
    full = await (await client.get(f"/cases/{case_id}")).text()
    assert "13900001111" in full and "王建国" in full


async def test_published_reports_carry_no_personal_data(hub: Any, tmp_path: Any) -> None:
    """Three appeals from one citizen repeating their name and number: the hot-issue
    label built from their shared words must not publish them."""
    from hub.intake_schema import validate_item
    from hub.queue import enqueue
    from hub.ranking.service import rank

    details = ["晚上一片漆黑，老人和孩子都不敢出门散步，上个月就有邻居在楼下摔断了腿，"
               "至今还在医院住着",
               "物业公司说路灯归市政管，市政又说小区内部归物业，两边互相推诿已经拖了整整两个月",
               "打了好几次热线电话都说会派人来看，可是一直没有人来，希望有关部门尽快安排维修",
               "夜里经常有陌生人在附近游荡，治安隐患很大，业主们都很担心，请尽快把灯修好"]
    texts = [f"A3区含浦街道幸福小区路灯不亮。{d}。我叫刘德华，电话13712345678，邮箱ldh@qq.com。"
             for d in details]
    with transaction(hub.sessions) as s:
        enqueue(s, hub.source_ids["hotline-push"], [
            validate_item({"external_id": f"r-{i}", "body": t}) for i, t in enumerate(texts)])
    from classifiers.router import load_router

    Pipeline(hub, load_router(hub)).drain()
    from zoneinfo import ZoneInfo

    from hub.models import utcnow

    today = utcnow().astimezone(ZoneInfo(hub.config.deadlines.timezone))
    payload = rank(hub, f"{today:%G-W%V}", tmp_path, recompute=True)
    published = "".join(p.read_bytes().decode("utf-8", "replace")
                        for p in tmp_path.iterdir() if p.suffix in (".json", ".csv", ".html"))
    assert payload["hot_issues"], "the repeated appeals should form a hot issue"
    for secret in ("刘德华", "13712345678", "ldh@"):
        assert secret not in published


MISCONDUCT = "A3区城管局执法人员吃拿卡要，向摊贩索要好处费。我叫钱多多，电话13500001234。"


async def test_a_misconduct_report_never_reaches_the_unit_it_accuses(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)

    def add_staff() -> None:
        from hub.web.auth import add_user

        with transaction(hub.sessions) as s:
            add_user(s, "jw", PASSWORD, "unit", unit_code="A3-jiwei")
            add_user(s, "cg", PASSWORD, "unit", unit_code="A3-chengguan")

    await hub.run(add_staff)
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "m-1", "body": MISCONDUCT, "contact_name": "钱多多",
        "contact_phone": "13500001234"})
    assert resp.status == 201
    await hub.run(Pipeline(hub, client.app["router"]).drain)

    def state() -> tuple[int, str, str | None, list[str] | None, bool]:
        with hub.sessions() as s:
            case = s.scalar(select(Case))
            unit = hub.config.unit(next(c for c, i in hub.unit_ids.items()
                                        if i == case.unit_id)) if case.unit_id else None
            return (case.id, case.state, unit.code if unit else None, case.accused_units,
                    case.hide_identity)

    case_id, status, unit, accused, hidden = await hub.run(state)
    assert (status, unit, hidden) == ("assigned", "A3-jiwei", True)
    assert accused and "A3-chengguan" in accused and "chengguan" in accused
    # the discipline body sees who wrote it
    csrf = await login(client, "jw")
    assert "13500001234" in await (await client.get(f"/cases/{case_id}")).text()
    await logout(client, csrf)
    # a dispatcher can send it neither to the accused unit nor, alone, outside discipline
    csrf = await login(client, "disp")
    for target in ("A3-chengguan", "chengguan", "zhujian"):
        resp = await client.post(f"/api/v1/staff/cases/{case_id}/actions", json={
            "action": "assign", "unit": target, "override_reason": "我觉得可以"},
            headers={"X-CSRF-Token": csrf})
        assert resp.status == 403, target
    await logout(client, csrf)
    # a supervisor may override to a non-accused unit with a reason on record
    csrf = await login(client, "sup")
    refused = await client.post(f"/api/v1/staff/cases/{case_id}/actions", json={
        "action": "assign", "unit": "A3-chengguan", "override_reason": "请核查"},
        headers={"X-CSRF-Token": csrf})
    assert refused.status == 403
    bare = await client.post(f"/api/v1/staff/cases/{case_id}/actions", json={
        "action": "assign", "unit": "A3-zhujian"}, headers={"X-CSRF-Token": csrf})
    assert bare.status == 403
    ok = await client.post(f"/api/v1/staff/cases/{case_id}/actions", json={
        "action": "assign", "unit": "A3-zhujian",
        "override_reason": "涉及住建工程，需住建先行核查"},
        headers={"X-CSRF-Token": csrf})
    assert ok.status == 200, await ok.text()

    def notes() -> list[str]:
        with hub.sessions() as s:
            return [e.note or "" for e in s.scalars(select(CaseEvent).where(
                CaseEvent.case_id == case_id))]

    assert any("需住建先行核查" in n for n in await hub.run(notes))
    await logout(client, csrf)
    # the accused unit never sees it; the unit it went to sees it masked
    csrf = await login(client, "cg")
    assert (await client.get(f"/cases/{case_id}")).status == 404
    listing = await (await client.get("/inbox/export.csv")).read()
    assert "吃拿卡要" not in listing.decode("utf-8-sig")
    await logout(client, csrf)
    await login(client, "zj")
    # zj is the city's 住建 staff; the case is with A3-zhujian: not theirs either
    assert (await client.get(f"/cases/{case_id}")).status == 404


async def test_the_unit_a_report_goes_to_by_override_sees_it_masked(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "m-2", "body": MISCONDUCT.replace("A3区城管局", "交通局"),
        "contact_name": "钱多多", "contact_phone": "13500001234"})
    assert resp.status == 201
    await hub.run(Pipeline(hub, client.app["router"]).drain)

    def case_id() -> int:
        with hub.sessions() as s:
            return int(s.scalar(select(Case.id)))

    cid = await hub.run(case_id)
    csrf = await login(client, "sup")
    refused = await client.post(f"/api/v1/staff/cases/{cid}/actions", json={
        "action": "assign", "unit": "jiaotong", "override_reason": "x"},
        headers={"X-CSRF-Token": csrf})
    assert refused.status == 403  # 交通局 is the accused unit
    ok = await client.post(f"/api/v1/staff/cases/{cid}/actions", json={
        "action": "assign", "unit": "zhujian", "override_reason": "协助核查"},
        headers={"X-CSRF-Token": csrf})
    assert ok.status == 200
    await logout(client, csrf)
    await login(client, "zj")
    rows = list(csv.DictReader(io.StringIO((await (await client.get(
        "/inbox/export.csv")).read()).decode("utf-8-sig"))))
    page = await (await client.get(f"/cases/{cid}")).text()
    for text in (page, str(rows)):
        assert "13500001234" not in text and "钱多多" not in text
