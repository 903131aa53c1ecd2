"""Guessing and lock-out attacks on the running app: concurrent wrong logins, locking
a colleague out, forged X-Forwarded-For, guessing query codes, stuffing QR
evaluations, weak passwords and open redirects after login."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.app import create_app
from hub.db import transaction
from hub.lifecycle.codes import PER_NUMBER
from hub.models import Case, UnitEvaluation, utcnow
from hub.pipeline import ManualTriage, Pipeline
from hub.web.auth import AuthError, add_user
from tests.conftest import HOTLINE_KEY
from tests.webutil import PASSWORD, csrf_in, login, logout, make_staff


@pytest.fixture
async def proxied(settings: Any, aiohttp_client: Any) -> Any:
    """The app behind a trusted proxy on 127.0.0.1, as deployed behind nginx."""
    client = await aiohttp_client(create_app(settings.with_overrides(
        trusted_proxies="127.0.0.1")))
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    return client


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"{address}"}


async def test_300_concurrent_wrong_logins_check_at_most_the_limit(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    before = hub.passwords.verified
    responses = await asyncio.gather(*[
        client.post("/api/v1/staff/login", json={"username": "disp", "password": f"guess-{i}"})
        for i in range(300)])
    statuses = [r.status for r in responses]
    checked = hub.passwords.verified - before
    limit = client.app["login_limiter"].user_rule.limit
    assert checked <= limit, f"{checked} passwords checked, limit {limit}"
    assert statuses.count(401) == checked and statuses.count(429) == 300 - checked
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if r.status == 429)


async def test_an_attacker_elsewhere_cannot_lock_the_real_user_out(proxied: Any) -> None:
    for i in range(30):
        resp = await proxied.post("/api/v1/staff/login", headers=_from("203.0.113.66"),
                                  json={"username": "disp", "password": f"guess-{i}"})
        assert resp.status == (401 if i < 5 else 429)
    real = await proxied.post("/api/v1/staff/login", headers=_from("198.51.100.7"),
                              json={"username": "disp", "password": PASSWORD})
    assert real.status == 200 and (await real.json())["csrf_token"]


async def test_one_address_spraying_usernames_is_stopped(proxied: Any) -> None:
    from dataclasses import replace

    limiter = proxied.app["login_limiter"]
    limiter.address_rule = replace(limiter.address_rule, limit=8)  # the same rule, fewer hashes
    rule = limiter.address_rule
    statuses = []
    for i in range(rule.limit + 5):
        resp = await proxied.post("/api/v1/staff/login", headers=_from("203.0.113.9"),
                                  json={"username": f"user{i}", "password": "guess"})
        statuses.append(resp.status)
    assert statuses[:rule.limit] == [401] * rule.limit and set(statuses[rule.limit:]) == {429}
    # an office behind one address logging in correctly is never counted against it
    for i in range(rule.limit - 1):  # nearly at the limit already
        await proxied.post("/api/v1/staff/login", headers=_from("198.51.100.50"),
                           json={"username": f"typo{i}", "password": "guess"})
    for name in ("disp", "sup", "op", "adm", "zj", "jt") * 2:
        resp = await proxied.post("/api/v1/staff/login", headers=_from("198.51.100.50"),
                                  json={"username": name, "password": PASSWORD})
        assert resp.status == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(client: Any) -> None:
    """Without HUB_TRUSTED_PROXIES a forged X-Forwarded-For changes nothing: rotating
    it does not buy more guesses."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    statuses = []
    for i in range(8):
        resp = await client.post("/api/v1/staff/login", headers=_from(f"192.0.2.{i}"),
                                 json={"username": "disp", "password": "guess"})
        statuses.append(resp.status)
    assert statuses == [401] * 5 + [429] * 3


async def test_forged_hops_left_of_the_proxy_are_ignored(proxied: Any) -> None:
    """The client is the first untrusted hop from the right: an attacker prepending
    addresses to the header cannot choose who they are."""
    statuses = []
    for i in range(8):
        resp = await proxied.post("/api/v1/staff/login",
                                  headers=_from(f"10.9.9.{i}, 203.0.113.5"),
                                  json={"username": "disp", "password": "guess"})
        statuses.append(resp.status)
    assert statuses == [401] * 5 + [429] * 3


async def _replied_case(client: Any) -> tuple[str, str]:
    hub = client.app["hub"]
    resp = await client.post("/api/v1/appeals", headers=HOTLINE_KEY, json={
        "external_id": "code-1", "body": "A3区含浦街道路灯不亮已经一个月"})
    assert resp.status == 201
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    svc = client.app["case_service"]

    def prepare() -> tuple[str, str]:
        with transaction(hub.sessions) as s:
            case = s.scalar(select(Case))
            svc.assign(s, case.id, "zhujian", "test")
            svc.sign(s, case.id, "unit")
            svc.reply(s, case.id, "unit", "已安排维修，路灯已经修好。")
            return case.number, case.query_code

    return await hub.run(prepare)


async def test_guessing_a_query_code_is_throttled_and_locked(proxied: Any) -> None:
    number, code = await _replied_case(proxied)
    wrong = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    statuses = []
    for i in range(PER_NUMBER.limit + 3):  # spread over addresses: the number still locks
        resp = await proxied.get(f"/api/v1/cases/{number}", params={"code": wrong},
                                 headers=_from(f"203.0.113.{i}"))
        statuses.append(resp.status)
    assert statuses == [404] * PER_NUMBER.limit + [429] * 3
    right = await proxied.get(f"/api/v1/cases/{number}", params={"code": code},
                              headers=_from("198.51.100.1"))
    assert right.status == 429 and int(right.headers["Retry-After"]) > 0
    rating = await proxied.post(f"/api/v1/cases/{number}/rating", headers=_from("198.51.100.1"),
                                json={"code": code, "grade": "满意"})
    assert rating.status == 429
    page = await (await proxied.get("/lookup")).text()
    resp = await proxied.post("/lookup", data={"csrf": csrf_in(page), "number": number,
                                               "code": code}, headers=_from("198.51.100.1"))
    assert resp.status == 429 and "锁定" in await resp.text()


async def test_concurrent_code_guesses_compare_at_most_the_limit(proxied: Any) -> None:
    number, _code = await _replied_case(proxied)
    responses = await asyncio.gather(*[
        proxied.get(f"/api/v1/cases/{number}", params={"code": f"A{i:05d}"[:6]},
                    headers=_from(f"203.0.113.{i % 200}")) for i in range(60)])
    statuses = [r.status for r in responses]
    assert statuses.count(404) == PER_NUMBER.limit and statuses.count(429) == 60 - PER_NUMBER.limit


async def test_one_client_cannot_sweep_case_numbers(proxied: Any) -> None:
    statuses = []
    for i in range(40):
        resp = await proxied.get(f"/api/v1/cases/2026110100{i:04d}", params={"code": "ABCDEF"},
                                 headers=_from("203.0.113.77"))
        statuses.append(resp.status)
    assert statuses[:30] == [404] * 30 and set(statuses[30:]) == {429}


async def test_a_right_code_is_not_counted_as_a_failure(proxied: Any) -> None:
    number, code = await _replied_case(proxied)
    for _ in range(PER_NUMBER.limit + 3):
        resp = await proxied.get(f"/api/v1/cases/{number}", params={"code": code},
                                 headers=_from("198.51.100.2"))
        assert resp.status == 200


def _receipt_number(html: str) -> str | None:
    match = re.search(r'id="number">(\d+)<', html)
    return match.group(1) if match else None


async def test_a_new_user_agent_buys_no_extra_evaluations(proxied: Any) -> None:
    page = await (await proxied.get("/evaluate/shichang")).text()
    form = {"csrf": csrf_in(page), "responsibility": "满意", "efficiency": "满意",
            "conduct": "满意"}
    statuses = []
    for i in range(6):
        resp = await proxied.post("/evaluate/shichang", data=form,
                                  headers={**_from("198.51.100.20"),
                                           "User-Agent": f"Mozilla/5.0 bot-{i}"})
        statuses.append(resp.status)
    assert statuses == [200, 200, 200, 429, 429, 429]


async def test_evaluation_stuffing_is_kept_flagged_and_left_out_of_rankings(
        proxied: Any, aiohttp_client: Any) -> None:
    """Fresh devices (cookies cleared) from one address: the first few count, the
    burst is kept but flagged; flagged ones stay out of the ranking figures until a
    supervisor accepts them on /supervise/evaluations."""
    from hub.ranking.metrics import collect
    from hub.ranking.period import parse_period

    hub = proxied.app["hub"]
    for i in range(12):
        proxied.session.cookie_jar.clear()
        page = await (await proxied.get("/evaluate/shichang")).text()
        resp = await proxied.post("/evaluate/shichang", headers=_from("203.0.113.40"), data={
            "csrf": csrf_in(page), "responsibility": "不满意", "efficiency": "不满意",
            "conduct": "不满意", "comment": f"第{i}次"})
        assert resp.status == 200
    # a script that never loads the page has no signed device: kept, flagged
    proxied.session.cookie_jar.clear()
    page = await (await proxied.get("/lookup")).text()
    proxied.session.cookie_jar.update_cookies({"hub_device": "forged.0000"})
    resp = await proxied.post("/evaluate/shichang", headers=_from("198.51.100.99"), data={
        "csrf": csrf_in(page), "responsibility": "不满意", "efficiency": "不满意",
        "conduct": "不满意"})
    assert resp.status == 200
    svc = proxied.app["case_service"]

    def figures() -> tuple[int, list[str | None], dict[str, int]]:
        with hub.sessions() as s:
            rows = list(s.scalars(select(UnitEvaluation).order_by(UnitEvaluation.id)))
            states = [s.get(Case, r.case_id).state for r in rows]  # type: ignore[union-attr]
            today = utcnow().astimezone(svc.calendar.tz)
            period = parse_period(f"{today:%G-W%V}", svc.calendar.tz)
            unit_id = hub.unit_ids["shichang"]
            counted = collect(s, period, svc.calendar).units
            return len(rows), [r.flag for r in rows], {
                "counted": sum(counted[unit_id].evaluations["conduct"].values()),
                "triage": states.count("triage"), "assigned": states.count("assigned")}

    total, flags, seen = await hub.run(figures)
    assert total == 13
    assert flags[:5] == [None] * 5 and all(f == "address_burst" for f in flags[5:12])
    assert flags[12] == "no_device"
    assert seen == {"counted": 5, "triage": 8, "assigned": 5}
    # a supervisor accepts three of the flagged ones on the review page
    sup_csrf = await login(proxied, "sup")
    review = await (await proxied.get("/supervise/evaluations")).text()
    ids = re.findall(r'name="evaluation_id" value="(\d+)"', review)
    assert len(ids) == 8
    resp = await proxied.post("/supervise/evaluations/accept", allow_redirects=False,
                              data={"csrf": csrf_in(review), "evaluation_id": ids[:3]})
    assert resp.status == 303
    _, _, seen = await hub.run(figures)
    assert seen["counted"] == 8
    # nobody else may accept
    await logout(proxied, sup_csrf)
    await login(proxied, "disp")
    refused = await proxied.post("/supervise/evaluations/accept", data={
        "csrf": csrf_in(await (await proxied.get("/inbox")).text()), "evaluation_id": ids[3:]})
    assert refused.status == 403
    _, _, seen = await hub.run(figures)
    assert seen["counted"] == 8


async def test_guessable_passwords_are_refused_by_page_and_cli(
        proxied: Any, settings: Any, monkeypatch: Any, capsys: Any) -> None:
    hub = proxied.app["hub"]

    def add(name: str, password: str) -> None:
        with transaction(hub.sessions) as s:
            add_user(s, name, password, "operator")

    for name, password in [("wangfang", "Passw0rd!2024"), ("wangfang", "wangfang-2024-hub"),
                           ("wangfang", "1234567890"), ("wangfang", "short")]:
        with pytest.raises(AuthError):
            await hub.run(add, name, password)
    await hub.run(add, "wangfang", "lantern-orbit-pine-7")
    csrf = await login(proxied, "adm")
    resp = await proxied.post("/admin/users", data={
        "csrf": csrf, "username": "lifang", "password": "lifang123456", "role": "operator"})
    assert resp.status == 422 and "用户名" in await resp.text()
    resp = await proxied.post("/admin/users", data={
        "csrf": csrf, "username": "lifang", "password": "qwertyuiop12", "role": "operator"})
    assert resp.status == 422 and "容易被猜到" in await resp.text()
    from hub.cli import main

    for key, value in {"HUB_ENV": "test", "HUB_DATABASE_URL": settings.resolved_database_url,
                       "HUB_VAR_DIR": str(settings.var_dir),
                       "HUB_MODEL_PATH": str(settings.model_path)}.items():
        monkeypatch.setenv(key, value)
    assert main(["user", "add", "zhaolei", "--role", "operator",
                 "--password", "zhaolei2024!"]) == 2
    assert "用户名" in capsys.readouterr().err
    assert main(["user", "add", "zhaolei", "--role", "operator",
                 "--password", "orbit-lantern-pine-3"]) == 0


OFF_SITE = ["/\t/evil.com", "/\\evil.com", "//evil.com", "https://evil.com", "/\r\n/evil.com",
            " //evil.com", "\t/\t/evil.com", "/\\/evil.com", "http:/evil.com",
            "/%09/evil.com/../x", "javascript:alert(1)", "/\x00/evil.com", "／／evil.com"]


async def test_login_never_redirects_off_site(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    for target in OFF_SITE:
        client.session.cookie_jar.clear()
        page = await (await client.get("/login", params={"next": target.replace("\x00", "")}))\
            .text()
        shown = re.search(r'name="next" value="([^"]*)"', page)
        assert shown and not shown.group(1).startswith("//"), target
        resp = await client.post("/login", allow_redirects=False, data={
            "csrf": csrf_in(page), "username": "disp", "password": PASSWORD, "next": target})
        if "\x00" in target:
            assert resp.status == 422  # a NUL is refused before anything else
            continue
        assert resp.status == 303, target
        location = resp.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), target
        assert "evil.com" not in location or location.startswith("/%09"), target


async def test_login_keeps_a_same_site_next(client: Any) -> None:
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    page = await (await client.get("/login")).text()
    resp = await client.post("/login", allow_redirects=False, data={
        "csrf": csrf_in(page), "username": "disp", "password": PASSWORD,
        "next": "/inbox?view=triage"})
    assert resp.headers["Location"] == "/inbox?view=triage"


def test_a_throttle_window_ends_and_counts_again(hub: Any) -> None:
    from hub.security import throttle
    from hub.security.throttle import Limit

    rule = Limit("test", 2, timedelta(minutes=5))
    start = utcnow()

    def hit(at: Any) -> throttle.Hit:
        with transaction(hub.sessions) as s:
            return throttle.hit(s, "k" * 64, rule, at)

    assert [hit(start).allowed for _ in range(3)] == [True, True, False]
    blocked = hit(start + timedelta(minutes=4))
    assert not blocked.allowed and 55 <= blocked.retry_after <= 60
    again = hit(start + timedelta(minutes=5, seconds=1))
    assert again.count == 1 and again.allowed
