"""The intake API: exactly-once, batches, and every kind of bad input."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.models import Appeal
from tests.conftest import HOTLINE_KEY

ITEM = {"external_id": "call-0001", "title": "A3区小区路灯不亮",
        "body": "A3区含浦街道某小区路灯坏了一个月，晚上出行很不安全，请尽快维修。",
        "contact_name": "李四", "contact_phone": "13812345678"}


async def count_appeals(client) -> int:  # type: ignore[no-untyped-def]
    hub = client.app["hub"]

    def count() -> int:
        with hub.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Appeal)))
    return await hub.run(count)


async def test_single_post_then_replay_is_a_no_op(client) -> None:  # type: ignore[no-untyped-def]
    first = await client.post("/api/v1/appeals", json=ITEM, headers=HOTLINE_KEY)
    assert first.status == 201
    body = await first.json()
    assert body["created"] is True
    again = await client.post("/api/v1/appeals", json=ITEM, headers=HOTLINE_KEY)
    assert again.status == 200
    assert (await again.json()) == {**body, "created": False}
    assert await count_appeals(client) == 1
    got = await client.get(body["url"], headers=HOTLINE_KEY)
    assert got.status == 200
    assert (await got.json())["external_id"] == "call-0001"


async def test_concurrent_duplicates_store_one_row(client) -> None:  # type: ignore[no-untyped-def]
    items = [{**ITEM, "external_id": f"c-{i % 10}"} for i in range(100)]
    responses = await asyncio.gather(*[
        client.post("/api/v1/appeals", json=item, headers=HOTLINE_KEY) for item in items])
    bodies = [await r.json() for r in responses]
    assert sum(1 for b in bodies if b["created"]) == 10
    ids = {}
    for item, body in zip(items, bodies, strict=True):
        ids.setdefault(item["external_id"], set()).add(body["id"])
    assert all(len(v) == 1 for v in ids.values())
    assert await count_appeals(client) == 10


async def test_batch_keeps_good_items_and_reports_bad_ones(client) -> None:  # type: ignore[no-untyped-def]
    batch = {"appeals": [
        {**ITEM, "external_id": "b-1"},
        {**ITEM, "external_id": "b-2", "body": ""},
        {**ITEM, "external_id": "b-3", "title": "长" * 201},
        {"external_id": "b-4"},
        {**ITEM, "external_id": "b-5", "votes": "many"},
        {**ITEM, "external_id": "b-1"},
    ]}
    resp = await client.post("/api/v1/appeals", json=batch, headers=HOTLINE_KEY)
    assert resp.status == 200
    body = await resp.json()
    assert body["accepted"] == 2 and body["rejected"] == 4
    codes = [r.get("error", {}).get("code") for r in body["results"]]
    assert codes == [None, "empty_field", "too_long", "missing_field", "wrong_type", None]
    assert body["results"][0]["id"] == body["results"][5]["id"]
    assert body["results"][5]["created"] is False
    assert await count_appeals(client) == 1


async def test_bad_requests_get_clear_machine_readable_errors(client) -> None:  # type: ignore[no-untyped-def]
    async def err(resp) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        return resp.status, (await resp.json())["error"]["code"]

    url = "/api/v1/appeals"
    assert await err(await client.post(url, json=ITEM)) == (401, "missing_api_key")
    assert await err(await client.post(url, json=ITEM, headers={"X-Api-Key": "nope"})) == \
        (401, "bad_api_key")
    hdr = {**HOTLINE_KEY, "Content-Type": "application/json"}
    assert await err(await client.post(url, data=b'{"external_id": ', headers=hdr)) == \
        (400, "invalid_json")
    gbk = '{"external_id":"g1","body":"路灯坏了很久了"}'.encode("gbk")
    assert await err(await client.post(url, data=gbk, headers=hdr)) == (400, "invalid_encoding")
    assert await err(await client.post(url, json={**ITEM, "colour": "red"},
                                       headers=HOTLINE_KEY)) == (422, "unknown_field")
    assert await err(await client.post(url, json={**ITEM, "received_at": "yesterday"},
                                       headers=HOTLINE_KEY)) == (422, "bad_datetime")
    big = {**ITEM, "body": "很" * 600_000}
    assert await err(await client.post(url, json=big, headers=HOTLINE_KEY)) == \
        (413, "body_too_large")
    assert await err(await client.post(url, json=[], headers=HOTLINE_KEY)) == \
        (422, "empty_batch")
    assert await count_appeals(client) == 0


async def test_a_source_sees_only_its_own_appeals(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post("/api/v1/appeals", json=ITEM, headers=HOTLINE_KEY)
    url = (await resp.json())["url"]
    other = await client.get(url, headers={"X-Api-Key": "dev-web-key"})
    assert other.status == 404


async def test_openapi_document_matches_the_validator(client) -> None:  # type: ignore[no-untyped-def]
    from hub.intake_schema import FIELDS

    doc = await (await client.get("/api/v1/openapi.json")).json()
    schema = doc["components"]["schemas"]["AppealIn"]
    assert set(schema["properties"]) == {f.name for f in FIELDS}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["title"]["maxLength"] == 200
    assert "/api/v1/appeals" in doc["paths"]
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_concurrent_posts_of_one_appeal_share_a_commit_and_an_id(client) -> None:  # type: ignore[no-untyped-def]
    """Requests arriving together are written in one INSERT; the same appeal sent by
    several of them at once is stored once and every answer names the same id."""
    import asyncio

    item = {"external_id": "same-call", "body": "A1区某路段井盖缺失，夜间很危险"}
    others = [{"external_id": f"other-{i}", "body": f"A2区第{i}号路灯不亮"} for i in range(20)]
    responses = await asyncio.gather(
        *[client.post("/api/v1/appeals", json=item, headers=HOTLINE_KEY) for _ in range(10)],
        *[client.post("/api/v1/appeals", json=o, headers=HOTLINE_KEY) for o in others])
    bodies = [await r.json() for r in responses]
    same = bodies[:10]
    assert len({b["id"] for b in same}) == 1
    assert sorted(r.status for r in responses[:10]) == [200] * 9 + [201]
    assert all(r.status == 201 for r in responses[10:])
    assert len({b["id"] for b in bodies[10:]} | {same[0]["id"]}) == 21


async def test_overlapping_batches_in_opposite_orders_all_succeed(client) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL several intake transactions run at once; batches naming the same
    appeals in different orders must neither deadlock nor store an appeal twice."""
    import random

    keys = [f"o-{i:03d}" for i in range(200)]
    batches = []
    for n in range(40):
        order = keys[:]
        random.Random(n).shuffle(order)
        batches.append([{**ITEM, "external_id": k} for k in (order if n % 2 else order[::-1])])
    responses = await asyncio.gather(*[
        client.post("/api/v1/appeals", json=batch, headers=HOTLINE_KEY) for batch in batches])
    assert all(r.status in (200, 201) for r in responses), [await r.text() for r in responses]
    ids: dict[str, set[int]] = {}
    created = 0
    for batch, resp in zip(batches, responses, strict=True):
        for item, result in zip(batch, (await resp.json())["results"], strict=True):
            ids.setdefault(item["external_id"], set()).add(result["id"])
            created += bool(result["created"])
    assert all(len(v) == 1 for v in ids.values()) and len(ids) == 200
    assert created == 200
    assert await count_appeals(client) == 200
