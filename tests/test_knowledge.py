"""The knowledge base (知识库) and direct answers (直接答复): articles created, edited
with history, kept to their unit, expired, found by a caller's words, flagged when
past review; an operator answers a call from one, the case needs no unit, the
citizen is called back like after any reply, and rankings count it apart."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db import transaction
from hub.intake_schema import validate_item
from hub.knowledge.demo_articles import ARTICLES, seed
from hub.knowledge.store import Draft, history, listing, save, search
from hub.lifecycle.calendar import WorkCalendar
from hub.lifecycle.service import CaseError, Conflict, NotFound
from hub.models import Appeal, Article, Case, Reply
from hub.queue import enqueue
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from tests.webutil import csrf_in, login, logout, make_staff, read

TODAY = date(2026, 12, 7)
CARD = Draft("社保卡丢失如何补办",
             "可携带身份证到社保卡合作银行网点先挂失再补办，10个工作日内制成。", "劳动和社会保障")


def test_an_article_is_saved_with_its_history_and_kept_to_its_unit(hub: Any) -> None:
    renshe, zhujian = hub.unit_ids["renshe"], hub.unit_ids["zhujian"]
    with transaction(hub.sessions) as s:
        with pytest.raises(CaseError, match="标题和内容"):
            save(s, Draft(" ", "正文"), "unit:rs", "unit", renshe)
        with pytest.raises(CaseError, match="分类"):
            save(s, Draft("标题", "正文", "天气"), "unit:rs", "unit", renshe,
                 categories=("劳动和社会保障",))
        with pytest.raises(CaseError, match="只有管理员"):
            save(s, CARD, "dispatcher:d", "dispatcher", None)
        article = save(s, CARD, "unit:rs", "unit", renshe)
        assert article.unit_id == renshe and article.version == 1
        article_id = article.id
    with transaction(hub.sessions) as s:
        edited = save(s, Draft(CARD.title, CARD.body + "也可在“A市人社”公众号线上申请。",
                               CARD.category, "renshe"), "admin:a", "admin", None, article_id, 1)
        assert edited.version == 2
        with pytest.raises(Conflict):
            save(s, CARD, "unit:rs", "unit", renshe, article_id, expected_version=1)
        with pytest.raises(NotFound):  # another unit's article is not its to see as editable
            save(s, CARD, "unit:zj", "unit", zhujian, article_id, expected_version=2)
        assert [r.version for r in history(s, article_id)] == [2, 1]


def test_search_finds_by_a_callers_words_within_validity(hub: Any) -> None:
    with transaction(hub.sessions) as s:
        assert seed(s, TODAY, tuple(hub.config.routing.categories)) == len(ARTICLES)
        assert seed(s, TODAY, ()) == 0  # once
    with hub.sessions() as s:
        found = search(s, "我的社保卡丢了，想问一下怎么补办一张新的", TODAY)
        assert found and found[0]["title"] == "社保卡丢失如何补办"
        assert search(s, "请问今天天气怎么样", TODAY) == []  # how one asks matches nothing
        stale = [a for a in listing(s, TODAY) if a["stale"]]
        assert stale  # the demo leaves some past review, to show the flag
        article_id = s.scalar(select(Article.id).where(Article.title == "社保卡丢失如何补办"))
    with transaction(hub.sessions) as s:
        s.get(Article, article_id).valid_to = TODAY - timedelta(days=1)
    with hub.sessions() as s:
        titles = [f["title"] for f in search(s, "社保卡丢了怎么补办", TODAY)]
    assert "社保卡丢失如何补办" not in titles  # expired


async def test_pages_for_writers_and_readers(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    csrf = await login(client, "zj")
    resp = await client.post("/knowledge/new", data={
        "csrf": csrf, "title": "路灯报修渠道", "category": "城乡建设", "review_on": "2026-01-01",
        "body": "市政道路路灯可拨打12345报修，说明路名和灯杆编号。"})
    page = await resp.text()
    assert resp.status == 200 and "已保存" in page and "第1版" in page
    article_id = re.search(r"/knowledge/(\d+)", str(resp.url)).group(1)  # type: ignore[union-attr]
    listing_page = await (await client.get("/knowledge")).text()
    assert 'id="stale"' in listing_page and "路灯报修渠道" in listing_page  # past review
    bad = await client.post(f"/knowledge/{article_id}", data={
        "csrf": csrf, "version": "1", "title": "路灯报修渠道", "body": "改过的内容",
        "valid_from": "2026-13-40"})
    assert bad.status == 400 and "日期格式" in await bad.text()
    assert "改过的内容" in await bad.text()  # the draft is kept
    await logout(client, csrf)
    csrf = await login(client, "jt")  # another unit reads, cannot write
    page = await (await client.get(f"/knowledge/{article_id}")).text()
    assert "路灯报修渠道" in page and 'id="article-form"' not in page
    denied = await client.post(f"/knowledge/{article_id}", data={
        "csrf": csrf, "version": "1", "title": "x", "body": "y"})
    assert denied.status == 404
    await logout(client, csrf)
    csrf = await login(client, "disp")
    assert (await client.get("/knowledge/new")).status == 403
    found = await (await client.get("/knowledge", params={"q": "路灯坏了找谁修"})).text()
    assert 'id="kb-found"' in found and "路灯报修渠道" in found


async def test_an_operator_answers_a_call_directly(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)

    def load() -> None:
        with transaction(hub.sessions) as s:
            seed(s, TODAY, tuple(hub.config.routing.categories))

    await hub.run(load)
    csrf = await login(client, "op")
    call = {"csrf": csrf, "body": "来电人询问社保卡丢了怎么补办", "contact_phone": "13700008888"}
    page = await (await client.post("/calls/new", data={**call, "intent": "search"})).text()
    assert 'id="kb-results"' in page and "社保卡丢失如何补办" in page
    assert "来电人询问社保卡丢了怎么补办" in page and "13700008888" in page  # kept
    missing = await client.post("/calls/new", data={**call, "intent": "direct"})
    assert missing.status == 422 and "请先选择" in await missing.text()
    article_id = re.search(r'name="article" value="(\d+)" checked', page).group(1)  # type: ignore[union-attr]
    resp = await client.post("/calls/new", data={**call, "intent": "direct",
                                                  "article": article_id},
                             allow_redirects=False)
    assert resp.status == 303 and "direct=1" in resp.headers["Location"]
    receipt = await (await client.get(resp.headers["Location"])).text()
    assert "已直接答复并登记" in receipt
    number = re.search(r"工单编号 <strong>(\d+)</strong>", receipt).group(1)  # type: ignore[union-attr]
    case = await hub.run(read, hub, lambda s: s.scalar(select(Case).where(Case.number == number)))
    reply = await hub.run(read, hub, lambda s: s.scalar(select(Reply)))
    assert (case.state, case.unit_id, case.callback_state) == ("replied", None, "pending")
    assert reply.resolution == "已解释说明" and "合作银行网点" in reply.body
    assert number in await (await client.get("/inbox?view=callback")).text()
    await logout(client, csrf)

    look = await (await client.get("/lookup")).text()
    code = await hub.run(read, hub, lambda s: s.get(Case, case.id).query_code)
    public = await (await client.post("/lookup", data={
        "csrf": csrf_in(look), "number": number, "code": code})).text()
    assert "热线工作人员已当场答复" in public and "合作银行网点" in public

    def figures() -> Any:
        tz = case.created_at.tzinfo
        year, week, _ = case.created_at.isocalendar()
        with hub.sessions() as s:
            return collect(s, parse_period(f"{year}-W{week:02d}", tz),
                           WorkCalendar(hub.config.deadlines))

    found = await hub.run(figures)
    assert found.direct_answered == 1 and found.received == 1
    assert all(f.replied == 0 for f in found.units.values())  # charged to no unit


async def test_the_assistant_suggests_without_filing(client: Any) -> None:
    """While a call is typed: the router's category and unit, matching articles, an
    open case telling the same matter, the caller's earlier cases by phone (never a
    whistleblower's report); nothing is filed; the phone is sent in a POST body."""
    from hub.pipeline import Pipeline

    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    text = "A3区含浦街道幸福路与建设路交叉口的井盖缺失，已经一个星期了，晚上骑车很危险"

    def arrange() -> None:
        with transaction(hub.sessions) as s:
            seed(s, TODAY, tuple(hub.config.routing.categories))
            enqueue(s, hub.source_ids["hotline-push"], [
                validate_item({"external_id": "a-1", "body": text,
                               "contact_phone": "13700009999"}),
                validate_item({"external_id": "a-2", "contact_phone": "13700009999",
                               "body": "举报某局科长吃拿卡要，收受红包"})])

    await hub.run(arrange)
    await hub.run(Pipeline(hub, client.app["router"]).drain)
    count = await hub.run(read, hub, lambda s: s.scalar(select(func.count()).select_from(Appeal)))
    csrf = await login(client, "op")
    refused = await client.post("/calls/assist", json={"body": text})
    assert refused.status == 403  # the page's token is required
    resp = await client.post("/calls/assist", headers={"X-CSRF-Token": csrf}, json={
        "body": text.replace("一个星期", "好几天"), "phone": "137-0000-9999"})
    hint = await resp.json()
    assert resp.status == 200 and hint["category"] and hint["unit"]
    assert hint["same_matter"] and hint["same_matter"]["open"]
    callers = hint["caller_cases"]
    assert len(callers) == 1 and "井盖" in callers[0]["title"]  # not the misconduct report
    social = await (await client.post("/calls/assist", headers={"X-CSRF-Token": csrf},
                                      json={"body": "社保卡丢了怎么补办"})).json()
    assert social["articles"][0]["title"] == "社保卡丢失如何补办"
    for junk in ("[1, 2]", "not json"):
        bad = await client.post("/calls/assist", headers={"X-CSRF-Token": csrf}, data=junk)
        assert bad.status == 400
    after = await hub.run(read, hub, lambda s: s.scalar(select(func.count()).select_from(Appeal)))
    assert after == count  # nothing filed
