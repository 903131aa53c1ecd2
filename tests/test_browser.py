"""Real browser tests: Playwright driving Debian's Chromium against a real hub server.

Each role does its main job end to end; a citizen submits, the unit replies, the
citizen rates 不满意 and the case reopens. Skipped only where no Chromium is
installed (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.app import create_app
from hub.pipeline import ManualTriage, Pipeline
from hub.settings import Settings
from tests.webutil import PASSWORD, make_staff

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# in CI a missing browser is a failure, not a skip
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                 reason="Debian's chromium is not installed")]


@pytest.fixture
async def server(settings: Settings, aiohttp_server: Any) -> Any:
    return await aiohttp_server(create_app(settings))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        yield b
        await b.close()


async def _phone(browser: Any) -> Any:
    """A page in a phone-sized, mobile browser context (390 × 844)."""
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    return await context.new_page()


async def _serious_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA violations of serious or critical impact on the page."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": {
        "type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


async def _login(browser: Any, base: str, username: str) -> Any:
    page = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/inbox.*"))
    return page


async def test_roles_do_their_jobs_in_a_browser(server: Any, browser: Any) -> None:
    base = str(server.make_url("")).rstrip("/")
    hub = server.app["hub"]
    await hub.run(make_staff, hub)

    # a citizen on a phone submits an appeal
    phone = await _phone(browser)
    await phone.goto(f"{base}/submit")
    await phone.fill("input[name=title]", "小区路灯不亮")
    await phone.fill("textarea[name=body]", "阳光小区东门路灯坏了一个月，晚上出行不安全。")
    await phone.fill("input[name=contact_phone]", "13512345678")
    await phone.click("button[type=submit]")
    number = (await phone.text_content("#number") or "").strip()
    code = (await phone.text_content("#code") or "").strip()
    assert re.fullmatch(r"\d{14}", number) and re.fullmatch(r"[A-Z0-9]{6}", code)
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await hub.run(Pipeline(hub, ManualTriage()).drain)

    # the dispatcher triages it to 住建
    disp = await _login(browser, base, "disp")
    await disp.click("text=待分拨")
    await disp.click(f"text={number}")
    await disp.select_option(".action-assign select[name=unit]", "zhujian")
    await disp.click(".action-assign button")
    await disp.wait_for_selector("text=已保存")
    assert "已交办" in (await disp.text_content("#case-state") or "")

    # the unit signs and replies
    unit = await _login(browser, base, "zj")
    await unit.click("text=待办理")
    await unit.click(f"text={number}")
    await unit.click(".action-sign button")
    await unit.wait_for_selector("text=已保存")
    await unit.fill(".action-reply textarea[name=body]",
                    "经现场核查，阳光小区东门路灯因线路老化损坏，已安排维修人员更换灯具和线路，今晚恢复照明。")
    await unit.select_option(".action-reply select[name=resolution]", "已解决")
    await unit.click(".action-reply button")
    await unit.wait_for_selector("text=已保存")
    assert "已答复" in (await unit.text_content("#case-state") or "")

    # the citizen looks it up, reads the reply and rates 不满意
    await phone.goto(f"{base}/lookup")
    await phone.fill("input[name=number]", number)
    await phone.fill("input[name=code]", code)
    await phone.click("button[type=submit]")
    assert "更换灯具" in (await phone.text_content(".reply") or "")
    await phone.check("input[value=不满意]")
    await phone.check("input[name=solved][value=否]")
    await phone.fill("textarea[name=comment]", "灯还是不亮")
    await phone.click("#rate button")
    assert "重办中" in (await phone.text_content("#public-state") or "")

    # the supervisor sees the reopened case and urges the unit
    sup = await _login(browser, base, "sup")
    await sup.click("text=督办关注")
    await sup.click(f"text={number}")
    await sup.fill(".action-urge input[name=note]", "请两日内修复")
    await sup.click(".action-urge button")
    await sup.wait_for_selector("text=已保存")
    log = await sup.text_content("#events") or ""
    assert all(step in log for step in ("交办", "签收", "答复", "重办", "督办"))

    # the hotline operator logs a call; the admin checks the channels
    op = await _login(browser, base, "op")
    await op.click("text=登记来电")
    await op.fill("textarea[name=body]", "反映农民工工资被拖欠三个月")
    await op.click("button:has-text('登记')")
    assert "查询验证码" in (await op.text_content("#receipt") or "")
    adm = await _login(browser, base, "adm")
    await adm.click("text=渠道状态")
    assert "12345热线(坐席登记)" in (await adm.text_content("#sources") or "")
    # ... and pauses automatic dispatch to a unit being reorganised
    await adm.click("a[href='/admin/units']")
    row = "#units tr[data-code='wenlv']"
    await adm.fill(f"{row} input[name=note]", "机构调整")
    await adm.click(f"{row} button:has-text('暂停')")
    await adm.wait_for_selector(f"{row} >> text=已暂停")


async def test_published_report_renders_in_the_browser(server: Any, browser: Any) -> None:
    from hub.ranking.service import rank
    from tests.test_ranking import week

    hub = server.app["hub"]
    await hub.run(week, hub)
    await hub.run(rank, hub, "2026-W40")
    base = str(server.make_url("")).rstrip("/")
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/reports")
    await page.click("text=2026年第40周")
    await page.wait_for_selector("svg rect")
    assert await _serious_violations(page) == []  # the citizens' report is accessible too
    # one chart per indicator, a bar for each of the two units with enough cases to rank
    assert await page.locator("figure svg").count() == 7
    assert await page.locator("#fig-on_time svg rect").count() == 2
    assert await page.locator("h2", has_text="最难办事榜").count() == 1
    box = await page.locator("#fig-on_time svg").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 10
    # printed, the page's own @page rule gives A4 (595 x 842 points) pages
    pdf = await page.pdf(prefer_css_page_size=True)
    boxes = set(re.findall(rb"MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf))
    assert boxes and all(round(float(w)) in (595, 596) and round(float(h)) in (842, 843)
                         for w, h in boxes), boxes


async def test_surge_banner_for_operators_and_the_reply_for_linked_callers(
        server: Any, browser: Any) -> None:
    from hub.db import transaction
    from hub.lifecycle.service import CaseService
    from tests.test_surge_web import hot_event

    hub = server.app["hub"]
    await hub.run(make_staff, hub)
    surge, carrier, caller = await hub.run(hot_event, hub)
    base = str(server.make_url("")).rstrip("/")

    # the operator's call form carries the surge and the answer to read out
    op = await _login(browser, base, "op")
    await op.click("text=登记来电")
    banner = op.locator("#surge-banner")
    await banner.wait_for()
    assert await banner.is_visible()
    text = await banner.text_content() or ""
    assert surge.title in text and "预设答复" in text and "正在统一处理" in text
    await op.fill("textarea[name=body]", "桂花路那边是不是爆管了？我家也停水了")
    await op.check(f"#surge-link input[value='{surge.id}']")
    await op.click("button:has-text('登记')")
    assert "已关联热点事件" in (await op.text_content("#receipt") or "")

    # the carrying case is answered; a linked caller's look-up on a phone shows it
    svc = CaseService(hub.config, hub.unit_ids)

    def answer() -> None:
        with transaction(hub.sessions) as s:
            svc.sign(s, carrier.id, "zj", unit_id=carrier.unit_id)
            svc.reply(s, carrier.id, "zj", "破裂管段已更换，今日18时恢复供水，请放水几分钟后使用。",
                      unit_id=carrier.unit_id)

    await hub.run(answer)
    phone = await _phone(browser)
    await phone.goto(f"{base}/lookup")
    await phone.fill("input[name=number]", caller.number)
    await phone.fill("input[name=code]", caller.query_code)
    await phone.click("button[type=submit]")
    assert carrier.number in (await phone.text_content("#public-linked") or "")
    assert "18时恢复供水" in (await phone.text_content(".reply") or "")
    assert "已答复" in (await phone.text_content("#public-state") or "")
    await phone.check("input[value=满意]")
    await phone.check("input[name=solved][value=是]")
    await phone.click("#rate button")
    await phone.wait_for_selector("text=感谢评价")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_a_case_through_return_arbitration_pause_call_back_and_redo(
        server: Any, browser: Any) -> None:
    """交通 returns a mis-routed case naming 住建; the dispatcher rules it rightful
    from the 退单仲裁 queue; 住建 pauses the clock (a supervisor approves), resumes and
    replies; the operator's call-back hears 不满意, 未解决, and the case reopens (重办)."""
    from sqlalchemy import select

    from hub.models import Case
    from tests.webutil import read

    base = str(server.make_url("")).rstrip("/")
    hub = server.app["hub"]
    await hub.run(make_staff, hub)
    phone = await (await browser.new_context()).new_page()
    await phone.goto(f"{base}/submit")
    await phone.fill("input[name=title]", "路面塌陷")
    await phone.fill("textarea[name=body]", "幸福路中段路面塌陷一个大坑，车辆经过危险。")
    await phone.fill("input[name=contact_phone]", "13512340000")
    await phone.click("button[type=submit]")
    number = (await phone.text_content("#number") or "").strip()
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    case_id = await hub.run(read, hub, lambda s: s.scalar(
        select(Case.id).where(Case.number == number)))

    async def act(page: Any, action: str, **fields: str) -> None:
        for name, value in fields.items():
            target = f".action-{action} [name={name}]"
            tag = await page.eval_on_selector(target, "e => e.tagName")
            if tag == "SELECT":
                await page.select_option(target, value)
            else:
                await page.fill(target, value)
        await page.click(f".action-{action} button")
        await page.wait_for_selector("text=已保存")

    disp = await _login(browser, base, "disp")
    await disp.goto(f"{base}/cases/{case_id}")
    await act(disp, "assign", unit="jiaotong")

    jt = await _login(browser, base, "jt")
    await jt.goto(f"{base}/cases/{case_id}")
    await act(jt, "sign")
    await act(jt, "return", code="非本单位职责", suggested="zhujian", reason="道路塌陷由住建局负责")
    assert "等待分拨中心仲裁" in (await jt.text_content("main") or "")

    await disp.goto(f"{base}/inbox")
    await disp.click("text=退单仲裁")
    await disp.click(f"text={number}")
    assert "建议由" in (await disp.text_content("#return-claim") or "")
    await act(disp, "arbitrate", ruling="退回成立")
    assert "住房" in (await disp.text_content("#unit") or "")

    zj = await _login(browser, base, "zj")
    await zj.goto(f"{base}/cases/{case_id}")
    await act(zj, "sign")
    await act(zj, "request_pause", kind="等待现场勘查或检测", reason="需等检测报告")
    sup = await _login(browser, base, "sup")
    await sup.click("text=督办关注")
    await sup.click(f"text={number}")
    await act(sup, "decide_pause")
    await zj.goto(f"{base}/cases/{case_id}")
    await act(zj, "resume")
    await act(zj, "reply", resolution="已解决",
              body="经现场勘查，幸福路中段塌陷系地下管道渗漏所致，已修复管道并回填压实路面，现已恢复通行。")

    op = await _login(browser, base, "op")
    await op.click("text=待回访")
    await op.click(f"text={number}")
    await act(op, "callback", reached="接通", solved="否", grade="不满意", note="市民说坑又塌了")
    assert "重办中" in (await op.text_content("#case-state") or "")
    log = await op.text_content("#events") or ""
    assert all(step in log for step in ("退回", "仲裁：退回成立", "同意挂起", "恢复计时", "答复",
                                        "回访", "重办"))


async def test_pages_pass_an_automated_accessibility_check(server: Any, browser: Any) -> None:
    """axe-core (WCAG 2 A and AA rules) on the pages citizens and staff use most: no
    violation of serious or critical impact (labels, contrast, names, structure)."""

    base = str(server.make_url("")).rstrip("/")
    hub = server.app["hub"]
    await hub.run(make_staff, hub)
    found: dict[str, list[str]] = {}

    async def check(page: Any, name: str) -> None:
        bad = await _serious_violations(page)
        if bad:
            found[name] = bad

    citizen = await (await browser.new_context()).new_page()
    for path in ("/", "/submit", "/lookup", "/reports"):
        await citizen.goto(base + path)
        await check(citizen, path)
    await citizen.goto(f"{base}/submit")
    await citizen.fill("textarea[name=body]", "幸福路路灯不亮，晚上出行不便。")
    await citizen.click("button[type=submit]")
    await check(citizen, "/submit/done")
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    number = (await citizen.text_content("#number") or "").strip()
    code = (await citizen.text_content("#code") or "").strip()
    disp = await _login(browser, base, "disp")
    await check(disp, "/inbox")
    await disp.click("a.case-link")
    await check(disp, "/cases/{id} (dispatcher)")
    await disp.select_option(".action-assign select[name=unit]", "zhujian")
    await disp.click(".action-assign button")
    await disp.wait_for_selector("text=已保存")
    unit = await _login(browser, base, "zj")
    await unit.goto(disp.url.split("?")[0])
    await check(unit, "/cases/{id} (unit)")
    await unit.click(".action-sign button")
    await unit.wait_for_selector("text=已保存")
    await check(unit, "/cases/{id} (signed)")
    for path in ("/reminders", "/cohandle", "/knowledge", "/knowledge/new", "/templates",
                 "/no/such/page"):
        await unit.goto(base + path)
        await check(unit, path)
    sup = await _login(browser, base, "sup")
    for path in ("/inbox?view=supervise", "/surges", "/supervise/evaluations"):
        await sup.goto(base + path)
        await check(sup, path)
    op = await _login(browser, base, "op")
    await op.goto(f"{base}/calls/new")
    await check(op, "/calls/new")
    await op.fill("textarea[name=body]", "社保卡丢了怎么补办")
    await op.click("button:has-text('查找知识库')")
    await check(op, "/calls/new (knowledge)")
    adm = await _login(browser, base, "adm")
    for path in ("/admin/sources", "/admin/units", "/admin/users", "/admin/contact-views",
                 "/admin/router", "/admin/catalogue"):
        await adm.goto(base + path)
        await check(adm, path)
    await citizen.goto(f"{base}/evaluate/zhujian")
    await check(citizen, "/evaluate/{unit}")
    await citizen.goto(f"{base}/lookup")
    await citizen.fill("input[name=number]", number)
    await citizen.fill("input[name=code]", code)
    await citizen.click("button[type=submit]")
    await check(citizen, "/lookup/case")
    assert not found, found


async def test_first_day_flows_on_a_phone_and_by_keyboard(server: Any, browser: Any) -> None:
    """Reloading the receipt files nothing twice; a dispatcher opens the next case
    with the keyboard; new appeals are announced, not slipped into the rows; a phone
    shows the inbox without sideways scrolling of the page."""
    from sqlalchemy import func, select

    from hub.models import Appeal
    from tests.webutil import read

    base = str(server.make_url("")).rstrip("/")
    hub = server.app["hub"]
    await hub.run(make_staff, hub)
    phone = await _phone(browser)
    await phone.goto(f"{base}/submit")
    await phone.fill("textarea[name=body]", "和平路垃圾桶满了没人清运，气味很大。")
    await phone.click("button[type=submit]")
    number = (await phone.text_content("#number") or "").strip()
    await phone.reload()
    assert (await phone.text_content("#number") or "").strip() == number
    count = await hub.run(read, hub, lambda s: s.scalar(select(func.count()).select_from(Appeal)))
    assert count == 1
    await hub.run(Pipeline(hub, ManualTriage()).drain)

    disp = await _login(browser, base, "disp")
    await disp.goto(f"{base}/inbox?view=triage")
    await disp.keyboard.press("j")
    await disp.keyboard.press("o")
    await disp.wait_for_url(re.compile(r".*/cases/\d+$"))
    assert number in (await disp.content())
    # on the case: a goes to the assignment form, n to the next case of the queue
    await disp.keyboard.press("a")
    assert await disp.evaluate("document.activeElement.name") == "unit"
    await disp.evaluate("document.activeElement.blur()")
    await disp.keyboard.press("n")
    await disp.wait_for_url(re.compile(r".*/inbox\?view=triage&ok=empty$"))
    assert "这个队列已经处理完了" in await disp.content()
    await disp.goto(f"{base}/inbox?view=triage")
    assert await disp.locator("#newer").is_hidden()
    await phone.goto(f"{base}/submit")
    await phone.fill("textarea[name=body]", "和平路路灯也坏了。")
    await phone.click("button[type=submit]")
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    await disp.evaluate("hubCheckNewer()")
    await disp.wait_for_selector("#newer:not([hidden])")
    assert "1" in (await disp.text_content("#newer-count") or "")
    assert await disp.locator("tr.case-row").count() == 1  # the rows did not move

    narrow = await _phone(browser)
    await narrow.goto(f"{base}/login")
    await narrow.fill("input[name=username]", "disp")
    await narrow.fill("input[name=password]", PASSWORD)
    await narrow.click("button[type=submit]")
    await narrow.wait_for_url(re.compile(r".*/inbox.*"))
    assert await narrow.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"), await narrow.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")


async def test_an_operator_answers_a_call_from_the_knowledge_base(server: Any,
                                                                   browser: Any) -> None:
    from hub.db import transaction
    from hub.knowledge.demo_articles import seed
    from hub.models import utcnow

    base = str(server.make_url("")).rstrip("/")
    hub = server.app["hub"]
    await hub.run(make_staff, hub)

    def load() -> None:
        with transaction(hub.sessions) as s:
            seed(s, utcnow().date(), tuple(hub.config.routing.categories))

    await hub.run(load)
    op = await _login(browser, base, "op")
    await op.click("text=登记来电")
    await op.fill("textarea[name=body]", "来电人问：孩子明年上小学一年级，什么时候报名？")
    await op.click("button:has-text('查找知识库')")
    await op.wait_for_selector("#kb-results")
    assert "小学一年级入学报名时间" in (await op.text_content("#kb-results") or "")
    assert "孩子明年上小学" in await op.input_value("textarea[name=body]")
    await op.click("button:has-text('按所选知识直接答复')")
    receipt = await op.text_content("#receipt") or ""
    assert "已直接答复并登记" in receipt and "查询验证码" in receipt
    # the assistant suggests while the operator types; Alt+1 answers from its first hint
    await op.click("text=登记来电")
    await op.fill("textarea[name=body]", "来电人说社保卡丢了，问怎么补办")
    await op.wait_for_selector(".assist-article")
    assert "社保卡丢失如何补办" in (await op.text_content("#assist") or "")
    assert "建议分类" in (await op.text_content("#assist") or "")
    await op.keyboard.press("Alt+1")
    await op.wait_for_selector("#receipt")
    assert "已直接答复并登记" in (await op.text_content("#receipt") or "")
