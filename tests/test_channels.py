"""Every connector against a real local imitation of its channel (hub.simulate), with
realistic Chinese content: the shared data when present, else the seed corpus."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from connectors.fetch import Fetcher, retry_after_seconds
from connectors.registry import kinds
from connectors.runner import pull
from hub.core import Hub
from hub.models import Appeal, QuarantinedItem, Source
from hub.settings import Settings
from hub.simulate import Channels, Message
from tests.channelutil import N, checkpoint, count, hub_with_source, messages, source_options
from tests.conftest import make_settings

_messages = messages
_count = count
_checkpoint = checkpoint


@pytest.fixture
async def channels(aiohttp_server: Any) -> tuple[Channels, str]:
    sim = Channels(_messages())
    server = await aiohttp_server(sim.app())
    return sim, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def county(tmp_path: Path, aiohttp_server: Any, seed_model: Path) -> Any:
    """A county's own hub (its own SQLite database) offering its ledger."""
    from hub.app import create_app

    folder = tmp_path / "county"
    folder.mkdir()
    settings = make_settings(f"sqlite:///{folder / 'county.sqlite3'}", folder, seed_model)
    app = create_app(settings.with_overrides(ledger_key="dev-ledger-key"))
    server = await aiohttp_server(app)
    return app, str(server.make_url("")).rstrip("/")


async def _feed_county(county: Any, messages: list[Message]) -> None:
    app, base = county
    items = [{"external_id": f"c-{m.id}", "title": m.title, "body": m.body,
              "received_at": m.at.isoformat(), "contact_phone": m.phone} for m in messages]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/appeals", json=items,
                             headers={"X-Api-Key": "dev-hotline-push-key"}) as resp:
            assert resp.status < 300, await resp.text()


@pytest.mark.parametrize("kind", sorted(kinds()))
async def test_connector_contract(kind: str, channels: Any, county: Any, settings: Settings,
                                  tmp_path: Path) -> None:
    """Every connector: a full first pull, an idle re-pull, then only what is new."""
    cls = kinds()[kind]
    for option in cls.declared_options():
        assert option.meaning.strip(), f"{cls.__name__}: option {option.name!r} needs a meaning"
    assert cls.__doc__, f"{cls.__name__} needs a docstring: its first line is the reference's"
    assert "Order:" in (sys.modules[cls.__module__].__doc__ or ""), (
        f"{cls.__module__}'s docstring must say (after 'Order:') what it assumes about the "
        "order the channel lists items in, and how it avoids losing items when it is wrong")
    sim, base = channels
    if kind == "subplatform":
        await _feed_county(county, sim.messages)
        base = county[1]
    hub = hub_with_source(settings, tmp_path, kind, source_options(kind, base))
    name = f"{kind}-test"
    expected = N
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, name, http)
            assert (first["new"], first["quarantined"], first["error"]) == (expected, 0, None)
            assert _checkpoint(hub, name)
            again = await pull(hub, name, http)
            assert again["new"] == 0 and again["error"] is None
            fresh = [Message(id=9000 + i, title=f"新留言{i}", body=f"A2区某路段路灯不亮第{i}天",
                             at=sim.messages[-1].at + timedelta(hours=i + 1)) for i in range(3)]
            if kind == "subplatform":
                await _feed_county(county, fresh)
            else:
                for m in fresh:
                    sim.add(m)
            third = await pull(hub, name, http)
            assert third["new"] == 3 and third["error"] is None
        total, distinct = _count(hub, name)
        assert total == distinct == expected + 3
        with hub.sessions() as s:
            bodies = set(s.scalars(select(Appeal.body).where(
                Appeal.source_id == hub.source_ids[name])))
        assert {m.body for m in sim.messages[:5]} <= bodies  # text arrives intact
    finally:
        hub.close()


async def test_gbk_board_pages_stop_at_the_checkpoint(channels: Any, settings: Settings,
                                                       tmp_path: Path) -> None:
    sim, base = channels
    assert sim.board_encoding == "gbk"
    hub = hub_with_source(settings, tmp_path, "board", source_options("board", base))
    try:
        async with aiohttp.ClientSession() as http:
            await pull(hub, "board-test", http)
            with hub.sessions() as s:
                titles = set(s.scalars(select(Appeal.title)))
                votes = s.scalar(select(func.sum(Appeal.votes)))
            assert {m.title for m in sim.messages} <= titles  # GBK decoded, not mojibake
            assert votes == sum(m.votes for m in sim.messages)
            before = sim.faults.requests
            await pull(hub, "board-test", http)
            # only the first list page (it reaches the checkpoint) and the boundary detail
            assert sim.faults.requests - before <= 3
    finally:
        hub.close()


async def test_items_repeated_across_pages_are_queued_once(channels: Any, settings: Settings,
                                                            tmp_path: Path) -> None:
    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "board", source_options("board", base))
    original = sim.board_list

    async def shifting(request: Any) -> Any:  # a new message arrives while the board is read
        response = await original(request)
        if request.query.get("page") == "1" and len(sim.messages) == N:
            sim.add(Message(id=8000, title="刚刚发布", body="A4区菜市场旁污水横流",
                            at=sim.messages[-1].at + timedelta(minutes=5)))
        return response

    sim.board_list = shifting  # type: ignore[method-assign]
    try:
        async with aiohttp.ClientSession() as http:
            summary = await pull(hub, "board-test", http)
        assert summary["error"] is None
        total, distinct = _count(hub, "board-test")
        assert total == distinct and summary["duplicates"] == 0
    finally:
        hub.close()


async def test_retries_then_gives_up_without_moving_the_checkpoint(
        channels: Any, settings: Settings, tmp_path: Path) -> None:
    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "newsapp", source_options("newsapp", base))
    try:
        async with aiohttp.ClientSession() as http:
            sim.faults.fail_next = 2  # two 500s: retried within the pull
            ok = await pull(hub, "newsapp-test", http)
            assert ok["error"] is None and ok["retries"] == 2 and ok["new"] == N
            for m in [Message(id=7000 + i, title="新帖", body=f"A6区噪音扰民{i}",
                              at=sim.messages[-1].at + timedelta(hours=1)) for i in range(2)]:
                sim.add(m)
            mark = _checkpoint(hub, "newsapp-test")
            for _attempt in range(3):  # down for good: each pull fails, the circuit opens
                sim.faults.fail_next = 100
                failed = await pull(hub, "newsapp-test", http)
                assert failed["errors"] == 1 and "500" in failed["error"]
                assert _checkpoint(hub, "newsapp-test") == mark
            assert failed["paused_until"] is not None
            sim.faults.fail_next = 0
            recovered = await pull(hub, "newsapp-test", http)
            assert recovered["new"] == 2 and recovered["paused_until"] is None
    finally:
        hub.close()


async def test_timeouts_are_retryable_errors(channels: Any, settings: Settings,
                                             tmp_path: Path) -> None:
    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "hotline", source_options(
        "hotline", base, {"timeout_seconds": 0.2, "retries": 1}))
    sim.faults.delay = 0.5
    try:
        async with aiohttp.ClientSession() as http:
            summary = await pull(hub, "hotline-test", http)
        assert summary["errors"] == 1 and "Timeout" in summary["error"]
        assert _count(hub, "hotline-test") == (0, 0)
    finally:
        hub.close()


async def test_429_retry_after_is_honoured(channels: Any) -> None:
    sim, base = channels
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    sim.faults.throttle_next, sim.faults.retry_after = 1, "3"
    async with aiohttp.ClientSession() as http:
        fetcher = Fetcher(http, {"min_interval_seconds": 0, "max_backoff_seconds": 30},
                          sleep=record)
        page = await fetcher.get(f"{base}/rss.xml")
    assert page.status == 200 and waits == [3.0]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


async def test_broken_pages_are_quarantined_and_layout_changes_abort(
        channels: Any, settings: Settings, tmp_path: Path) -> None:
    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "board", source_options("board", base))
    broken = sim.messages[3].id
    sim.faults.truncate = {broken}
    try:
        async with aiohttp.ClientSession() as http:
            summary = await pull(hub, "board-test", http)
            assert (summary["new"], summary["quarantined"]) == (N - 1, 1)
            with hub.sessions() as s:
                item = s.scalar(select(QuarantinedItem))
                assert item.external_id == str(broken) and b"detail/" in item.raw
                assert "truncated" in item.reason
            sim.faults.layout_changed = True
            sim.add(Message(id=9999, title="新", body="新的留言",
                            at=sim.messages[-1].at + timedelta(hours=1)))
            mark = _checkpoint(hub, "board-test")
            changed = await pull(hub, "board-test", http)
            assert changed["errors"] == 1 and "layout" in changed["error"]
            assert _checkpoint(hub, "board-test") == mark
            # re-reading the broken page does not quarantine it a second time
            sim.faults.layout_changed = False
            with hub.sessions() as s:
                s.execute(Source.__table__.update().values(checkpoint=None))
                s.commit()
            await pull(hub, "board-test", http)
        with hub.sessions() as s:
            assert s.scalar(select(func.count()).select_from(QuarantinedItem)) == 1
    finally:
        hub.close()


async def test_a_pull_killed_midway_then_rerun_queues_everything_once(
        channels: Any, settings: Settings, tmp_path: Path) -> None:
    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "board", source_options("board", base))
    sim.faults.delay = 0.03
    try:
        async with aiohttp.ClientSession() as http:
            task = asyncio.create_task(pull(hub, "board-test", http, batch_size=5))
            for _ in range(400):
                await asyncio.sleep(0.05)
                if _count(hub, "board-test")[0] >= 10:
                    break
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            partial = _count(hub, "board-test")[0]
            assert 0 < partial < N
            sim.faults.delay = 0
            await pull(hub, "board-test", http)
        assert _count(hub, "board-test") == (N, N)
    finally:
        hub.close()


async def test_scheduled_pulls_run_in_one_process_and_skip_paused_sources(
        channels: Any, settings: Settings, tmp_path: Path) -> None:
    from connectors.schedule import scheduled_pull
    from hub.jobs import acquire_lease, release_lease
    from hub.models import utcnow

    sim, base = channels
    hub = hub_with_source(settings, tmp_path, "rss", source_options("rss", base))
    other = Hub.open(hub.settings.with_overrides(instance_name="other-process"),
                     prepare=False)
    try:
        async with aiohttp.ClientSession() as http:
            app = {"hub": hub, "http": http}
            assert acquire_lease(other, "pull:rss-test", timedelta(minutes=5))
            assert await scheduled_pull(app, "rss-test") is None  # type: ignore[arg-type]
            assert _count(hub, "rss-test") == (0, 0)
            release_lease(other, "pull:rss-test")
            done = await scheduled_pull(app, "rss-test")  # type: ignore[arg-type]
            assert done is not None and done["new"] == N
            with hub.sessions() as s:
                s.execute(Source.__table__.update().values(
                    paused_until=utcnow() + timedelta(minutes=10)))
                s.commit()
            sim.add(Message(id=9500, title="新", body="A1区某路口红绿灯坏了",
                            at=sim.messages[-1].at + timedelta(hours=1)))
            assert await scheduled_pull(app, "rss-test") is None  # type: ignore[arg-type]
            assert _count(hub, "rss-test")[0] == N
    finally:
        other.close()
        hub.close()


async def test_large_pages_arrive_whole_and_oversize_ones_abort(
        channels: Any, settings: Settings, tmp_path: Path) -> None:
    sim, base = channels
    for i in range(400):  # one page of ~400 long work orders, well over one read()'s worth
        m = sim.messages[i % N]
        sim.add(Message(id=20_000 + i, title=m.title, body=m.body * 4,
                        at=m.at + timedelta(days=2, minutes=i)))
    hub = hub_with_source(settings, tmp_path, "hotline",
                          source_options("hotline", base, {"page_size": 100}))
    try:
        async with aiohttp.ClientSession() as http:
            summary = await pull(hub, "hotline-test", http)
            assert summary["error"] is None and summary["new"] == N + 400
        small = hub_with_source(settings, tmp_path, "newsapp", source_options(
            "newsapp", base, {"max_response_bytes": 2000}))
        try:
            async with aiohttp.ClientSession() as http:
                refused = await pull(small, "newsapp-test", http)
            assert refused["errors"] == 1 and "larger than 2000 bytes" in refused["error"]
        finally:
            small.close()
    finally:
        hub.close()
