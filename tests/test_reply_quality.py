"""答复质检: each rule with replies it must flag and replies it must not, then the way
a flagged reply goes out only with a reason, shows on the case page, in the
supervisors' 答复质检 view and in the rankings."""

from __future__ import annotations

import html
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.lifecycle.calendar import WorkCalendar
from hub.models import Case, Reply, ReplyTemplate
from hub.ranking.metrics import collect
from hub.ranking.period import parse_period
from hub.replies.quality import check, content_of, shingles
from tests.webutil import act_on_case, login, logout, make_staff, read, submit_as_citizen

TITLE = "幸福路路灯不亮"
BODY = "幸福路东段三盏路灯坏了一个多月，晚上很黑，老人小孩出行很不安全，希望尽快修好。"
GOOD = ("经现场核查，幸福路东段三盏路灯因电缆老化断路，已于12月3日更换电缆和灯具，"
        "当晚恢复照明，后续纳入每周夜间巡查。")


def codes(reply: str, earlier: list[str] = (), known: tuple[str, ...] = ()) -> set[str]:
    seen = [shingles(content_of(e)) for e in earlier]
    return {f.code for f in check(TITLE, BODY, reply, seen, known)}


def test_a_good_reply_passes() -> None:
    assert codes(GOOD) == set()


def test_too_short_counts_what_is_left_after_the_courtesies() -> None:
    assert "too_short" in codes("网友您好！您的留言已收悉。感谢您对我们工作的关心和支持！")
    assert "too_short" in codes("您好，已转相关部门处理。")
    assert "too_short" not in codes(GOOD)


def test_boilerplate_is_the_same_reply_three_times_before() -> None:
    stock = "您的留言已收悉！我们已将您反映的问题转相关部门进行处理，敬请关注后续回复，谢谢！幸福路"
    assert "boilerplate" in codes(stock, [stock, stock, stock.replace("谢谢", "多谢")])
    assert "boilerplate" not in codes(stock, [stock, stock])  # twice is not yet a habit
    assert "boilerplate" not in codes(GOOD, [GOOD.replace("12月3日", "11月2日"), GOOD, GOOD][:2])


def test_off_topic_touches_nothing_the_citizen_raised() -> None:
    vague = ("我们已将你的留言转交至相关部门，欢迎你继续关注和监督我们的工作，"
             "关注本地的发展，我们将一如既往做好各项服务工作。")
    assert "off_topic" in codes(vague)
    assert "off_topic" not in codes(GOOD)
    assert "off_topic" not in codes(vague + "幸福路的灯已报修。")


def test_personal_data_of_others_but_not_the_citizens_own() -> None:
    other = GOOD + "如有疑问请联系维修班张师傅13812345678。"
    assert "third_party_data" in codes(other)
    assert "third_party_data" in codes(GOOD + "身份证号430102199001011234的住户已配合。")
    assert "third_party_data" not in codes(GOOD + "我们已致电您（13812345678）。",
                                           known=("138-1234-5678",))
    assert "third_party_data" not in codes(GOOD + "咨询电话0731-88888888。")


def test_a_promise_needs_a_date() -> None:
    promise = ("经核查，幸福路东段路灯线路老化，我局将尽快安排维修，恢复照明，"
               "请您耐心等待，感谢理解。")
    assert "promise_without_date" in codes(promise)
    assert "promise_without_date" not in codes(promise.replace("尽快", "于12月15日前"))
    assert "promise_without_date" not in codes(GOOD)


async def _with_zhujian(client: Any) -> tuple[Any, str, int, str]:
    """A citizen's appeal assigned to 住建, whose staff member is logged in: the hub,
    the case number and id, and the session's CSRF token."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    number, _, case_id = await submit_as_citizen(client, TITLE, BODY, "周九", "13600005555")
    csrf = await login(client, "disp")
    await act_on_case(client, case_id, csrf, action="assign", unit="zhujian")
    await logout(client, csrf)
    return hub, number, case_id, await login(client, "zj")


async def test_a_flagged_reply_goes_out_only_with_a_reason(client: Any) -> None:
    hub, _, case_id, csrf = await _with_zhujian(client)
    await act_on_case(client, case_id, csrf, action="sign")
    stock = "网友您好！您的留言已收悉，已转相关部门处理。"
    page = await act_on_case(client, case_id, csrf, saved=False, action="reply", body=stock,
                             resolution="已解决")
    assert "答复质检提示" in page and "答复过短" in page
    assert stock in page  # the draft is kept, not lost
    assert 'name="send_anyway"' in page
    case = await hub.run(read, hub, lambda s: s.get(Case, case_id))
    assert case.state == "signed"  # nothing went out
    await act_on_case(client, case_id, csrf, action="reply", body=stock, resolution="已解决",
                      send_anyway="已电话详细答复市民，网上简要回复")
    reply = await hub.run(read, hub, lambda s: s.scalar(select(Reply)))
    assert reply.quality_flags and "too_short" in reply.quality_flags
    assert reply.quality_override == "已电话详细答复市民，网上简要回复"
    shown = await (await client.get(f"/cases/{case_id}")).text()
    assert "仍发送的理由" in shown
    await logout(client, csrf)
    csrf = await login(client, "sup")
    number = await hub.run(read, hub, lambda s: s.get(Case, case_id).number)
    assert number in await (await client.get("/inbox?view=flagged")).text()
    when = reply.at

    def figures() -> Any:
        tz = ZoneInfo(hub.config.deadlines.timezone)
        year, week, _ = when.astimezone(tz).isocalendar()
        with hub.sessions() as s:
            period = parse_period(f"{year}-W{week:02d}", tz)
            found = collect(s, period, WorkCalendar(hub.config.deadlines))
            return found.units[hub.unit_ids["zhujian"]]

    assert (await hub.run(figures)).replies_flagged == 1


async def test_templates_start_a_reply_that_must_still_be_completed(client: Any) -> None:
    hub, number, case_id, csrf = await _with_zhujian(client)
    template = ("{称呼}您好！您反映的工单{编号}已收悉。经现场核查，幸福路东段路灯已安排维修，"
                "于{日期}恢复照明，今后纳入每周夜间巡查。")
    bad = await client.post("/templates", data={"csrf": csrf, "name": "路灯", "body": "太短"})
    assert bad.status == 400 and "至少10个字" in await bad.text()
    saved = await client.post("/templates", data={"csrf": csrf, "name": "路灯维修",
                                                   "body": template, "resolution": "已解决"})
    assert saved.status == 200 and "路灯维修" in await saved.text()
    page = await act_on_case(client, case_id, csrf, action="sign")
    assert 'id="reply-template"' in page and f"工单{number}已收悉" in page
    assert "周*您好" in page and "周九您好" not in page  # the name masked in the placeholder
    filled = re.search(r'data-body="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    refused = await act_on_case(client, case_id, csrf, saved=False, action="reply",
                                body=html.unescape(filled), resolution="已解决")
    assert "模板未修改" not in refused and "几乎相同" in refused  # (the flag's own words)
    await act_on_case(client, case_id, csrf, action="reply", resolution="已解决",
                      body=GOOD + "三盏灯的电缆均已更换为阻燃电缆，夜间巡查发现问题当晚处理。")
    await logout(client, csrf)
    csrf = await login(client, "jt")  # another unit neither sees nor deletes it
    assert "路灯维修" not in await (await client.get("/templates")).text()
    template_id = await hub.run(read, hub, lambda s: s.scalar(select(ReplyTemplate.id)))
    await client.post(f"/templates/{template_id}/delete", data={"csrf": csrf})
    assert await hub.run(read, hub, lambda s: s.get(ReplyTemplate, template_id)) is not None
