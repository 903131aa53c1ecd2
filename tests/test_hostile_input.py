"""Attacks on the intake API and the pages with input a careless or hostile client
sends: poison requests in a shared group commit, deep nesting, numbers too large for
any column, times that overflow, non-ASCII where secrets are compared, NUL bytes,
replayed ids with other content. Every answer is a 4xx with a clear code; no other
request is hurt."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from hub.intake import IntakeWriter, Unstorable
from hub.intake_schema import validate_item
from hub.models import Appeal
from tests.conftest import HOTLINE_KEY
from tests.webutil import csrf_in, login, make_staff

URL = "/api/v1/appeals"
JSON = {**HOTLINE_KEY, "Content-Type": "application/json"}


def _valid(i: int) -> dict[str, Any]:
    return {"external_id": f"good-{i}", "body": f"A2区第{i}号路灯不亮，夜间出行不便。",
            "contact_phone": "13812345678"}


def _poison(i: int) -> bytes:
    # valid JSON, but "\ud800" is a lone UTF-16 surrogate: no database can store it
    return f'{{"external_id": "bad-{i}", "body": "路灯坏了\\ud800请修"}}'.encode()


async def _count(client: Any) -> int:
    hub = client.app["hub"]

    def count() -> int:
        with hub.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Appeal)))
    return await hub.run(count)


async def _error(resp: Any) -> tuple[int, str, str | None]:
    body = await resp.json()
    return resp.status, body["error"]["code"], body["error"].get("field")


async def test_concurrent_poison_requests_never_fail_the_valid_ones(client: Any) -> None:
    valid = [client.post(URL, json=_valid(i), headers=HOTLINE_KEY) for i in range(60)]
    poison = [client.post(URL, data=_poison(i), headers=JSON) for i in range(6)]
    mixed = client.post(URL, headers=JSON, data=(
        b'[{"external_id": "mix-1", "body": "\xe4\xba\x95\xe7\x9b\x96\xe7\xbc\xba\xe5\xa4\xb1"},'
        b' {"external_id": "mix-2", "body": "x\\udfff"},'
        b' {"external_id": "mix-3", "body": "ok", "extra": {"k": ["\\ud83d"]}}]'))
    responses = await asyncio.gather(*valid, *poison, mixed)
    assert [r.status for r in responses[:60]] == [201] * 60
    for resp in responses[60:66]:
        assert await _error(resp) == (422, "invalid_text", "body")
    batch = await responses[66].json()
    assert responses[66].status == 200 and batch["accepted"] == 1
    assert [r.get("error", {}).get("field") for r in batch["results"]] == \
        [None, "body", "extra.k[0]"]
    assert await _count(client) == 61


async def test_a_failed_group_commit_is_retried_request_by_request(client: Any) -> None:
    """The backstop below validation: a batch whose transaction the database refuses
    is written again one request at a time, so only the guilty request fails."""
    hub = client.app["hub"]
    writer = IntakeWriter(hub)
    writer.start()
    source = hub.source_ids["hotline-push"]
    good = [[validate_item(_valid(100 + i))] for i in range(20)]
    guilty = validate_item({"external_id": "guilty", "body": "placeholder"})
    guilty.body = "路灯\ud800坏了"  # bypasses validation, as a future bug might
    try:
        results = await asyncio.gather(
            *(writer.submit(source, items) for items in good[:10]),
            writer.submit(source, [guilty]),
            *(writer.submit(source, items) for items in good[10:]),
            return_exceptions=True)
    finally:
        await writer.stop()
    assert isinstance(results[10], Unstorable)
    stored = [r for i, r in enumerate(results) if i != 10]
    assert all(isinstance(r, list) and r[0].created for r in stored), results
    assert await _count(client) == 20


async def test_malformed_bodies_are_clear_4xx_errors(client: Any) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert await _error(await client.post(URL, data=deep, headers=JSON)) == \
        (400, "too_deep", None)
    nested: dict[str, Any] = {"v": 1}
    for _ in range(40):
        nested = {"n": nested}
    assert await _error(await client.post(URL, json={**_valid(1), "extra": nested},
                                          headers=HOTLINE_KEY)) == (400, "too_deep", None)
    huge = '{"external_id": "h1", "body": "路灯不亮", "votes": '.encode() + b"9" * 5000 + b"}"
    assert await _error(await client.post(URL, data=huge, headers=JSON)) == \
        (422, "number_too_large", "votes")
    assert (await _error(await client.post(URL, json={**_valid(2), "votes": 2**63},
                                           headers=HOTLINE_KEY)))[:2] == (422, "number_too_large")
    assert await _error(await client.post(URL, json={**_valid(3), "votes": 2**40},
                                          headers=HOTLINE_KEY)) == (422, "wrong_type", "votes")
    nan = b'{"external_id": "n1", "body": "x", "extra": {"score": NaN}}'
    assert await _error(await client.post(URL, data=nan, headers=JSON)) == \
        (422, "number_too_large", "extra.score")
    nul = b'{"external_id": "z1", "body": "a\\u0000b"}'
    assert await _error(await client.post(URL, data=nul, headers=JSON)) == \
        (422, "invalid_text", "body")
    key = b'{"external_id": "k1", "body": "ok", "extra": {"\\ud800": 1}}'
    assert (await _error(await client.post(URL, data=key, headers=JSON)))[:2] == \
        (422, "invalid_text")
    for when, code in [("0001-01-01T00:00:00", "bad_datetime"),
                       ("9999-12-31T23:59:59-14:00", "bad_datetime"),
                       ("2999-01-01T00:00:00+08:00", "implausible_datetime"),
                       ("1970-01-01T00:00:00Z", "implausible_datetime")]:
        resp = await client.post(URL, json={**_valid(4), "received_at": when},
                                 headers=HOTLINE_KEY)
        assert await _error(resp) == (422, code, "received_at"), when
    assert await _count(client) == 0


async def test_huge_and_strange_numbers_in_paths_and_queries(client: Any) -> None:
    for appeal_id in ("99999999999999999999999", "9223372036854775808", "²", "１２", "-1",
                      "1e3", "0x10"):
        resp = await client.get(f"{URL}/{appeal_id}", headers=HOTLINE_KEY)
        assert await _error(resp) == (404, "not_found", None), appeal_id
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    await login(client, "disp")
    for case_id in ("99999999999999999999", "²", "１"):
        assert (await client.get(f"/api/v1/staff/cases/{case_id}")).status == 404
        assert (await client.get(f"/cases/{case_id}")).status == 404
    for page in ("99999999999999999999999", "²", "-5"):
        resp = await client.get("/api/v1/staff/cases", params={"page": page})
        assert resp.status == 200, page
    nul = await client.get("/api/v1/staff/cases", params={"q": "路灯\x00"})
    assert await _error(nul) == (400, "invalid_url", None)


async def test_ledger_parameters_and_key(settings: Any, aiohttp_client: Any) -> None:
    from hub.app import create_app

    client = await aiohttp_client(create_app(settings.with_overrides(ledger_key="l" * 30)))
    for after in ("1" + "0" * 30, "²", "-1", "1.5"):
        resp = await client.get("/api/v1/ledger", params={"after": after},
                                headers={"X-Api-Key": "l" * 30})
        assert await _error(resp) == (400, "bad_parameter", None), after
    ok = await client.get("/api/v1/ledger", params={"after": str(2**63 - 1)},
                          headers={"X-Api-Key": "l" * 30})
    assert ok.status == 200 and (await ok.json())["items"] == []
    wrong = await client.get("/api/v1/ledger", headers={"X-Api-Key": "账本" * 10})
    assert wrong.status == 401


async def test_non_ascii_secrets_are_compared_as_bytes(client: Any) -> None:
    """compare_digest refuses str with non-ASCII characters: every secret an attacker
    sends (API key, CSRF token, query code, session cookie) is compared as bytes."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    resp = await client.post(URL, json=_valid(1), headers={"X-Api-Key": "密钥ключ"})
    assert await _error(resp) == (401, "bad_api_key", None)
    page = await (await client.get("/login")).text()
    assert csrf_in(page)
    resp = await client.post("/login", data={"username": "disp", "password": "x",
                                             "csrf": "伪造的令牌"})
    assert resp.status == 403
    resp = await client.get("/api/v1/cases/20260101000001", params={"code": "验证码"})
    assert resp.status == 404
    client.session.cookie_jar.update_cookies({"hub_session": "会话"})
    assert (await client.get("/api/v1/staff/cases")).status == 401


async def test_unstorable_form_fields_are_refused_by_name(client: Any) -> None:
    page = await (await client.get("/submit")).text()
    resp = await client.post("/submit", data={"csrf": csrf_in(page), "body": "路灯\x00不亮"})
    assert resp.status == 422 and "body" in await resp.text()
    assert await _count(client) == 0


async def test_undecodable_forms_and_bodies_are_400_on_every_form(client: Any) -> None:
    """Bytes that are not the declared charset, a charset no one knows, a broken
    multipart body: every form route (anonymous and staff) answers 400, never 500."""
    hub = client.app["hub"]
    await hub.run(make_staff, hub)
    token = await login(client, "disp")
    form = "application/x-www-form-urlencoded"
    bodies = [({"Content-Type": form}, b"csrf=" + token.encode() + b"&body=\xff\xfe%ff"),
              ({"Content-Type": form + "; charset=no-such-codec"}, b"body=abc"),
              ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x\r\nbroken")]
    routes = ["/submit", "/lookup", "/lookup/rate", "/evaluate/zhujian", "/login",
              "/logout", "/inbox/bulk", "/cases/1/act", "/calls/new", "/admin/users",
              "/surges/1", "/supervise/evaluations/accept"]
    for route in routes:
        for headers, body in bodies:
            resp = await client.post(route, data=body, headers=headers, allow_redirects=False)
            assert resp.status in (400, 403, 404), (route, headers, resp.status)
            assert resp.status != 400 or "无法读取" in await resp.text(), route
    assert await _count(client) == 0


async def test_replaying_an_external_id_with_other_content_is_409(client: Any) -> None:
    first = await client.post(URL, json=_valid(7), headers=HOTLINE_KEY)
    stored = await first.json()
    same = await client.post(URL, json=_valid(7), headers=HOTLINE_KEY)
    assert same.status == 200 and (await same.json())["id"] == stored["id"]
    changed = await client.post(URL, json={**_valid(7), "body": "完全不同的内容"},
                                headers=HOTLINE_KEY)
    body = await changed.json()
    assert changed.status == 409 and body["error"]["code"] == "external_id_conflict"
    assert body["error"]["existing_id"] == stored["id"]
    # in a batch: the changed item is reported, the rest go in
    resp = await client.post(URL, headers=HOTLINE_KEY, json=[
        {**_valid(7), "contact_phone": "13900000000"}, _valid(8)])
    results = (await resp.json())["results"]
    assert results[0]["error"]["code"] == "external_id_conflict"
    assert results[0]["id"] == stored["id"] and results[1]["created"] is True
    # a later votes count is not a different appeal
    assert (await client.post(URL, json={**_valid(8), "votes": 12},
                              headers=HOTLINE_KEY)).status == 200
    hub = client.app["hub"]

    def body_of() -> str:
        with hub.sessions() as s:
            return s.get(Appeal, stored["id"]).body  # type: ignore[union-attr]
    assert await hub.run(body_of) == _valid(7)["body"]  # never silently overwritten


def test_a_pulled_item_no_database_can_store_is_quarantined_alone(hub: Any) -> None:
    """A channel's page holding a lone surrogate or a NUL (in the id too): the bad
    items are quarantined with their bytes, the good ones queued, the pull goes on."""
    from connectors.base import RawItem
    from connectors.runner import _commit
    from hub.models import QuarantinedItem

    source = hub.source_ids["hotline-push"]
    items = [RawItem({"external_id": "p-1", "body": "路灯不亮"}, "1"),
             RawItem({"external_id": "p-\ud800", "body": "井盖\ud800缺失"}, "2"),
             RawItem({"external_id": "p-\x00", "body": "a\x00b"}, "3"),
             RawItem({"external_id": "p-4", "body": "道路破损", "extra": {"n": "\udfff"}}, "4")]
    from connectors.registry import connector_class

    hotline = connector_class("hotline")
    assert hotline is not None
    connector = hotline("hotline-push", {"url": "http://127.0.0.1:9/workorders"}, None)
    stats = {"new": 0, "duplicates": 0, "quarantined": 0, "updated": 0, "checkpoint_kept": 0}
    _commit(hub, connector, source, items, [], "4", stats)
    assert stats == {"new": 1, "duplicates": 0, "quarantined": 3, "updated": 0,
                     "checkpoint_kept": 0}
    with hub.sessions() as s:
        kept = list(s.scalars(select(QuarantinedItem).order_by(QuarantinedItem.id)))
        assert [q.external_id for q in kept] == [None, None, "p-4"]
        assert all(b"\xed\xa0\x80" in q.raw or b"\\u0000" in q.raw or b"p-4" in q.raw
                   for q in kept)
