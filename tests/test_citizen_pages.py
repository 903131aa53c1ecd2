"""Citizens' forms post, redirect and get: reloading the receipt never files an appeal
twice, reloading after a rating shows the case (not an error), the query code never
travels in an address, and a forged or expired cookie only leads back to the form."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from hub.models import Appeal, Case
from hub.pipeline import ManualTriage, Pipeline
from hub.security.signed import seal, unseal
from tests.webutil import act_on_case, csrf_in, login, logout, make_staff, read


async def _submit(client: Any) -> Any:
    form = await (await client.get("/submit")).text()
    return await client.post("/submit", allow_redirects=False, data={
        "csrf": csrf_in(form), "title": "井盖缺失", "body": "人民路口井盖丢失，夜里很危险。",
        "contact_name": "吴十", "contact_phone": "13700006666"})


async def test_submitting_then_reloading_files_one_appeal(client: Any) -> None:
    hub = client.app["hub"]
    resp = await _submit(client)
    assert resp.status == 303 and resp.headers["Location"] == "/submit/done"
    first = await (await client.get("/submit/done")).text()
    again = await (await client.get("/submit/done")).text()  # the reload
    number = re.search(r'id="number">(\d+)<', first)
    code = re.search(r'id="code">([A-Z0-9]{6})<', first)
    assert number and code and number.group(1) in again and code.group(1) in again
    appeals = await hub.run(read, hub, lambda s: s.scalar(
        select(func.count()).select_from(Appeal)))
    assert appeals == 1
    # a cookie this hub did not sign shows nothing
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(
        {"hub_receipt": f"{number.group(1)}.ABCDEF~9999999999~00"})
    stray = await client.get("/submit/done", allow_redirects=False)
    assert stray.status == 303 and stray.headers["Location"] == "/lookup"


async def test_look_up_and_rate_then_reload(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    await _submit(client)
    receipt = await (await client.get("/submit/done")).text()
    number = re.search(r'id="number">(\d+)<', receipt).group(1)  # type: ignore[union-attr]
    code = re.search(r'id="code">([A-Z0-9]{6})<', receipt).group(1)  # type: ignore[union-attr]
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    case_id = await hub.run(read, hub, lambda s: s.scalar(select(Case.id)))
    csrf = await login(client, "disp")
    await act_on_case(client, case_id, csrf, action="assign", unit="zhujian")
    await logout(client, csrf)
    csrf = await login(client, "zj")
    await act_on_case(client, case_id, csrf, action="sign")
    await act_on_case(client, case_id, csrf, action="reply",
                      body="经现场核查，人民路口井盖被盗，已于当日补装新井盖并设置警示标志，谢谢反映。",
                      resolution="已解决")
    await logout(client, csrf)

    look = await (await client.get("/lookup")).text()
    resp = await client.post("/lookup", allow_redirects=False, data={
        "csrf": csrf_in(look), "number": number, "code": code.lower()})
    assert resp.status == 303 and resp.headers["Location"] == "/lookup/case"
    assert code not in resp.headers["Location"]
    page = await (await client.get("/lookup/case")).text()
    assert "补装新井盖" in page and 'id="rate"' in page
    resp = await client.post("/lookup/rate", allow_redirects=False, data={
        "csrf": csrf_in(page), "number": number, "code": code, "grade": "满意", "solved": "是"})
    assert resp.status == 303 and resp.headers["Location"] == "/lookup/case?ok=rated"
    for _ in range(2):  # the page after rating, and its reload
        after = await client.get("/lookup/case?ok=rated")
        text = await after.text()
        assert after.status == 200 and "感谢评价" in text and "已办结" in text
        # the citizen's own rating is shown back, dates in Chinese
        assert 'id="public-ratings"' in text and "<strong>满意</strong>，问题已解决" in text
        assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", text)
    # a wrong code is answered on the form itself, with no redirect
    wrong = await client.post("/lookup", allow_redirects=False, data={
        "csrf": csrf_in(look), "number": number, "code": "ZZZZZZ"})
    assert wrong.status == 404 and "不正确" in await wrong.text()


def test_a_sealed_value_is_bound_to_its_secret_purpose_and_time() -> None:
    token = seal("s" * 32, "hub_case", "2026120100001.ABCDEF", 60, now=1000)
    assert unseal("s" * 32, "hub_case", token, now=1059) == "2026120100001.ABCDEF"
    assert unseal("s" * 32, "hub_case", token, now=1061) is None  # expired
    assert unseal("t" * 32, "hub_case", token, now=1000) is None  # another secret
    assert unseal("s" * 32, "hub_receipt", token, now=1000) is None  # another purpose
    forged = token.replace("ABCDEF", "ABCDEG")
    assert unseal("s" * 32, "hub_case", forged, now=1000) is None
    for junk in ("", "~~", "a~b~c~d", "x" * 400):
        assert unseal("s" * 32, "hub_case", junk, now=1000) is None


async def test_an_operator_reloading_after_logging_a_call_logs_it_once(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "op")
    resp = await client.post("/calls/new", allow_redirects=False, data={
        "csrf": csrf, "body": "来电反映小区电梯停运三天", "contact_phone": "13700007777"})
    assert resp.status == 303 and resp.headers["Location"] == "/calls/new?done=1"
    for _ in range(2):
        page = await (await client.get("/calls/new?done=1")).text()
        assert 'id="receipt"' in page and "请告知来电人" in page
    assert 'id="receipt"' not in await (await client.get("/calls/new")).text()
    appeals = await hub.run(read, hub, lambda s: s.scalar(
        select(func.count()).select_from(Appeal)))
    assert appeals == 1


async def test_error_pages_are_the_sites_own_in_chinese(client: Any) -> None:
    missing = await client.get("/no/such/page")
    text = await missing.text()
    assert missing.status == 404 and "页面不存在" in text and 'href="/lookup"' in text
    assert "Not Found" not in text
    wrong = await client.put("/lookup")
    assert wrong.status == 405 and "不支持的操作" in await wrong.text()
    assert "GET" in wrong.headers.get("Allow", "")
    # a handler's own Chinese words are kept
    nowhere = await client.get("/evaluate/no-such-unit")
    assert nowhere.status == 404 and "没有这个单位" in await nowhere.text()
    # the JSON API keeps its own shape
    api = await client.get("/api/v1/no-such-thing")
    assert api.status == 404 and (await api.json())["error"]["code"] == "not_found"
