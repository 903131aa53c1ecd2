"""Incremental pulls against boards that break date rules (issue 13): for each, the
queue ends up holding every item exactly once, and no pull that skipped items is
reported as a success."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from sqlalchemy import func, select

from connectors.base import KnownItems
from connectors.board import BoardConnector
from connectors.health import source_health
from connectors.jsonapi import JsonApiConnector, PageNumberPaging
from connectors.registry import registered
from connectors.replay import ReplayError, refetch, replay
from connectors.runner import pull
from hub.models import Appeal, QuarantinedItem, SourceEvent
from hub.settings import Settings
from hub.simulate import TZ, Channels, Message
from tests.channelutil import (
    FAST,
    N,
    checkpoint,
    hub_with_source,
    messages,
    source_options,
    stored_ids,
)

BOARD = "board-test"


def _ids(sim: Channels, extra: list[Message] | None = None) -> list[str]:
    return sorted(str(m.id) for m in [*sim.messages, *sim.pinned, *(extra or [])])


# a date before every message of the imitations (hub/simulate.py starts them on
# 2026-11-01): fixed, so a test does not change its meaning as the calendar moves on
BEFORE_THE_DATA = datetime(2026, 9, 1, 8, tzinfo=TZ)


def _new(sim: Channels, n: int, start: int, *, dated: datetime | None = None) -> list[Message]:
    """Messages posted now (or approved now showing the older date ``dated``)."""
    at = dated or datetime.now(TZ)
    fresh = [Message(id=start + i, title=f"A{i % 9 + 1}区某小区电梯故障第{i}次",
                     body=f"A{i % 9 + 1}区某小区3号楼电梯又坏了，老人上下楼困难，"
                          f"物业一直不修（{i}）",
                     at=at + timedelta(minutes=i)) for i in range(n)]
    for m in fresh:
        sim.add(m)
    return fresh


async def _serve(aiohttp_server: Any, sim: Channels) -> str:
    server = await aiohttp_server(sim.app())
    return str(server.make_url("")).rstrip("/")


def _events(hub: Any, action: str) -> list[SourceEvent]:
    with hub.sessions() as s:
        return list(s.scalars(select(SourceEvent).where(SourceEvent.action == action)
                              .order_by(SourceEvent.id)))


def _raw(hub: Any, external_id: str) -> dict[str, Any]:
    with hub.sessions() as s:
        return s.scalar(select(Appeal.raw).where(Appeal.external_id == external_id)) or {}


async def test_a_board_ordered_by_reply_time(aiohttp_server: Any, settings: Settings,
                                             tmp_path: Path) -> None:
    """Threads answered later jump to the top: they are re-read as updates, and the
    new threads among and below them are all read."""
    sim = Channels(messages(), board_order="reply")
    hub = hub_with_source(settings, tmp_path, "board",
                          source_options("board", await _serve(aiohttp_server, sim)))
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, BOARD, http)
            assert (first["new"], first["status"]) == (N, "ok")
            answered = [sim.messages[i] for i in (2, 9, 17, 30, 41)]
            for i, m in enumerate(answered):
                sim.answer(m.id, f"经核查，已责成物业于本周内整改（答复{i}）。")
            fresh = _new(sim, 3, 9000)
            second = await pull(hub, BOARD, http)
            assert (second["new"], second["updated"], second["status"]) == (3, 5, "ok")
            assert second["error"] is None and second["warnings"] == []
            third = await pull(hub, BOARD, http)
            assert (third["new"], third["updated"]) == (0, 0)
        assert stored_ids(hub, BOARD) == _ids(sim)
        assert _raw(hub, str(answered[0].id))["extra"]["reply"].startswith("经核查")
        updates = _events(hub, "upstream_update")
        assert len(updates) == 5 and "extra.reply" in updates[0].data["changed"]
        assert {f.id for f in fresh} <= {int(i) for i in stored_ids(hub, BOARD)}
    finally:
        hub.close()


async def test_a_pinned_old_notice_on_top_of_page_one(aiohttp_server: Any, settings: Settings,
                                                      tmp_path: Path) -> None:
    sim = Channels(messages())
    sim.pinned = [Message(id=500, title="【置顶】关于规范网络问政留言的公告",
                          body="请文明留言，涉及个人隐私的内容将不予公开。",
                          at=datetime(2024, 3, 1, 9, tzinfo=TZ))]
    base = await _serve(aiohttp_server, sim)
    # even a walk that stops at the very first stored entry is not stopped by the notice
    hub = hub_with_source(settings, tmp_path, "board",
                          source_options("board", base, {"stop_after_known": 1}))
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, BOARD, http)
            assert (first["new"], first["status"]) == (N + 1, "ok")
            _new(sim, 5, 9100)
            sim.pinned.append(Message(id=501, title="【置顶】春节期间留言办理时限说明",
                                      body="节假日期间留言顺延办理。",
                                      at=datetime(2025, 1, 20, 9, tzinfo=TZ)))
            second = await pull(hub, BOARD, http)
            assert (second["new"], second["status"]) == (6, "ok")
        assert stored_ids(hub, BOARD) == _ids(sim)
    finally:
        hub.close()


async def test_posts_published_late_with_their_old_dates(aiohttp_server: Any,
                                                         settings: Settings,
                                                         tmp_path: Path) -> None:
    """审核后公开: posts appear on top after moderation showing their original time;
    they are read, and the checkpoint does not move back to their dates."""
    sim = Channels(messages())
    hub = hub_with_source(settings, tmp_path, "board",
                          source_options("board", await _serve(aiohttp_server, sim)))
    connector = BoardConnector(BOARD, source_options("board", "http://x"), None)
    try:
        async with aiohttp.ClientSession() as http:
            await pull(hub, BOARD, http)
            mark = connector.checkpoint_key(checkpoint(hub, BOARD) or "")
            _new(sim, 2, 9200)  # fresh posts first: the old code stopped below them anyway
            late = _new(sim, 5, 9300, dated=BEFORE_THE_DATA)  # then five approved late
            summary = await pull(hub, BOARD, http)
            assert (summary["new"], summary["status"]) == (7, "ok")
            assert connector.checkpoint_key(checkpoint(hub, BOARD) or "") >= mark
        assert stored_ids(hub, BOARD) == _ids(sim)
        with hub.sessions() as s:
            when = s.scalar(select(Appeal.received_at).where(Appeal.external_id == str(late[0].id)))
        assert when is not None and when == BEFORE_THE_DATA
    finally:
        hub.close()


async def test_a_post_inserted_deep_in_the_list_is_found_by_the_periodic_recheck(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    sim = Channels(messages())
    hub = hub_with_source(settings, tmp_path, "board", source_options(
        "board", await _serve(aiohttp_server, sim),
        {"stop_after_known": 5, "recheck_hours": 0.0003, "recheck_pages": 5}))
    try:
        async with aiohttp.ClientSession() as http:
            await pull(hub, BOARD, http)
            hidden = Message(id=9400, title="A3区某路段井盖缺失",
                             body="A3区某路段井盖缺失多日，夜间行人易跌落",
                             at=sim.messages[5].at + timedelta(minutes=1))
            sim.messages.insert(6, hidden)  # shown at its date, on page 4 of 5
            sim.by_id[hidden.id] = hidden
            await asyncio.sleep(1.2)  # the recheck is due
            summary = await pull(hub, BOARD, http)
            assert (summary["new"], summary["status"]) == (1, "ok")
        assert stored_ids(hub, BOARD) == _ids(sim)
    finally:
        hub.close()


async def test_a_list_that_grows_between_and_during_pulls(aiohttp_server: Any,
                                                          settings: Settings,
                                                          tmp_path: Path) -> None:
    """max_pages too small for the backlog: every pull that leaves items unread says
    so, later pulls carry on, and the queue ends with every message once."""
    sim = Channels(messages())
    original = sim.board_list
    grown: list[Message] = []

    async def growing(request: Any) -> Any:  # new posts arrive while the list is walked
        response = await original(request)
        if request.query.get("page") != "1" and len(grown) < 6:
            grown.extend(_new(sim, 2, 9500 + len(grown)))
        return response

    sim.board_list = growing  # type: ignore[method-assign]
    hub = hub_with_source(settings, tmp_path, "board", source_options(
        "board", await _serve(aiohttp_server, sim), {"max_pages": 3, "stop_after_known": 5}))
    try:
        statuses = []
        async with aiohttp.ClientSession() as http:
            for round_no in range(12):
                summary = await pull(hub, BOARD, http)
                assert summary["error"] is None
                complete = stored_ids(hub, BOARD) == _ids(sim)
                statuses.append(summary["status"])
                if summary["status"] == "ok":
                    assert complete, f"pull {round_no} said ok with items missing"
                else:
                    assert "max_pages" in summary["warnings"][0]
                    assert [s["status"] for s in source_health(hub)
                            if s["name"] == BOARD] == ["warning"]
                if round_no == 1:
                    _new(sim, 4, 9600)  # and between pulls
                if summary["status"] == "ok" and len(grown) >= 6:
                    break
        assert statuses[0] == "warning" and statuses[-1] == "ok"
        assert stored_ids(hub, BOARD) == _ids(sim)  # every message, once
        [health] = [s for s in source_health(hub) if s["name"] == BOARD]
        assert health["status"] == "ok" and health["last_warning"] is None
    finally:
        hub.close()


async def test_a_detail_page_cut_off_once_is_recovered(aiohttp_server: Any, settings: Settings,
                                                       tmp_path: Path) -> None:
    sim = Channels(messages())
    broken, also = sim.messages[3].id, sim.messages[40].id
    sim.faults.truncate_once = {broken, also}
    hub = hub_with_source(settings, tmp_path, "board",
                          source_options("board", await _serve(aiohttp_server, sim)))
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, BOARD, http)
            assert (first["new"], first["quarantined"]) == (N - 2, 2)
            with hub.sessions() as s:
                held = {q.external_id: q.id for q in s.scalars(select(QuarantinedItem))}
            # the stored bytes are the cut-off page: replaying them cannot help
            with pytest.raises(ReplayError, match="truncated"):
                await hub.run(replay, hub, held[str(broken)], "cli:ops")
            appeal = await refetch(hub, held[str(broken)], http, "cli:ops")
            assert appeal > 0
            with pytest.raises(ReplayError, match="already replayed"):
                await refetch(hub, held[str(broken)], http, "cli:ops")
            # the other one is unread, so the next pull reads it again: whole this time
            second = await pull(hub, BOARD, http)
            assert (second["new"], second["quarantined"], second["status"]) == (1, 0, "ok")
        assert stored_ids(hub, BOARD) == _ids(sim)
        with hub.sessions() as s:
            assert s.scalar(select(func.count()).select_from(QuarantinedItem)
                            .where(QuarantinedItem.replayed_at.is_(None))) == 0
        assert [(e.actor, e.appeal_id) for e in _events(hub, "refetch")] == [("cli:ops", appeal)]
        assert len(_events(hub, "recovered")) == 1
    finally:
        hub.close()


async def test_a_thread_whose_reply_is_added_later(aiohttp_server: Any, settings: Settings,
                                                   tmp_path: Path) -> None:
    """A reply shows as 已回复 in the list: the thread is read again, its stored raw data
    takes the reply, an event keeps what it replaced, and no second appeal appears."""
    sim = Channels(messages())
    hub = hub_with_source(settings, tmp_path, "board",
                          source_options("board", await _serve(aiohttp_server, sim)))
    target = sim.messages[-3]
    target.reply = None
    try:
        async with aiohttp.ClientSession() as http:
            await pull(hub, BOARD, http)
            assert "reply" not in _raw(hub, str(target.id))["extra"]
            sim.answer(target.id, "您好，您反映的问题已转交A2区城管局，将于3个工作日内处理。")
            summary = await pull(hub, BOARD, http)
            assert (summary["new"], summary["updated"], summary["status"]) == (0, 1, "ok")
        assert stored_ids(hub, BOARD) == _ids(sim)
        assert _raw(hub, str(target.id))["extra"]["reply"].startswith("您好")
        [event] = _events(hub, "upstream_update")
        assert event.data["changed"] == ["extra.reply"]
        assert event.data["before"] == {"extra.reply": None}
    finally:
        hub.close()


class GovListConnector(JsonApiConnector):
    """a 政务 platform's JSON message list (newest first, by page number)"""

    kind = "govlist-test"
    records = "data.list"
    id_field = "msg_id"
    paging = PageNumberPaging(param="page", first=1, more_key="data.has_more")
    replication_key = "modify_time"
    time_field = "post_time"
    pinned_field = "is_top"
    fixed: ClassVar[dict[str, str]] = {}

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"body": record.get("content"), "title": record.get("title"),
                "received_at": record.get("post_time"),
                "extra": {"reply": record["reply"]} if record.get("reply") else None}


async def test_a_json_list_by_page_number_is_a_short_class(aiohttp_server: Any,
                                                           settings: Settings,
                                                           tmp_path: Path) -> None:
    """The declarative JSON base walks a newest-first API like a board: pinned
    records, replies that reorder the list and growth between pulls."""
    sim = Channels(messages(), board_order="reply")
    sim.pinned = [Message(id=501, title="置顶公告", body="留言须知：请如实反映问题。",
                          at=datetime(2024, 1, 1, tzinfo=TZ))]
    base = await _serve(aiohttp_server, sim)
    with registered(GovListConnector):
        hub = hub_with_source(settings, tmp_path, GovListConnector.kind,
                              {**FAST, "url": f"{base}/gov/messages", "max_pages": 3,
                               "stop_after_known": 10}, name="gov")
        try:
            async with aiohttp.ClientSession() as http:
                pulls = [await pull(hub, "gov", http) for _ in range(3)]
                # 3 pages and the notice; then one page to reach stored records, the page
                # where the last pull stopped and one more; then the rest
                assert [(p["new"], p["status"]) for p in pulls] == [
                    (31, "warning"), (10, "warning"), (5, "ok")]
                sim.answer(sim.messages[0].id, "已督促相关单位处理。")
                _new(sim, 2, 9700)
                third = await pull(hub, "gov", http)
                assert (third["new"], third["updated"], third["status"]) == (2, 1, "ok")
            assert stored_ids(hub, "gov") == _ids(sim)
        finally:
            hub.close()


async def test_an_rss_item_with_an_old_date_is_read_and_an_overrun_feed_warns(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    sim = Channels(messages())
    hub = hub_with_source(settings, tmp_path, "rss",
                          source_options("rss", await _serve(aiohttp_server, sim)))
    try:
        async with aiohttp.ClientSession() as http:
            await pull(hub, "rss-test", http)
            mark = checkpoint(hub, "rss-test")
            late = _new(sim, 1, 9800, dated=BEFORE_THE_DATA)
            summary = await pull(hub, "rss-test", http)
            assert (summary["new"], summary["status"]) == (1, "ok")
            assert checkpoint(hub, "rss-test") == mark  # an old date does not move it back
            _new(sim, 60, 10_000)  # more than the feed's 50 arrive between two pulls
            overrun = await pull(hub, "rss-test", http)
            assert overrun["new"] == 50 and overrun["status"] == "warning"
            assert "pull more often" in overrun["warnings"][0]
        assert str(late[0].id) in {i.removeprefix("msg-") for i in stored_ids(hub, "rss-test")}
    finally:
        hub.close()


async def test_the_walk_never_stores_a_checkpoint_that_moves_back() -> None:
    """The runner's guard, on the board's own order of checkpoints."""
    connector = BoardConnector(BOARD, source_options("board", "http://x"), None)
    newer = '{"newest":"2026-11-20T01:00:00+00:00"}'
    older = '{"newest":"2026-11-01T01:00:00+00:00"}'
    from connectors.runner import _moves_forward

    assert _moves_forward(connector, newer, older) is False
    assert _moves_forward(connector, older, newer) is True
    assert _moves_forward(connector, "2026-11-20T01:00:00+00:00", older) is False  # old format
    assert isinstance(connector.known, KnownItems) and not connector.known.any_stored


async def test_the_walk_decides_by_stored_items_and_their_stamps() -> None:
    """Without HTTP: pinned entries are skipped, a stamp that appears ("" -> 已回复) is
    a change, an item stored before stamps existed is taken as unchanged, and the walk
    stops after ``stop_after_known`` settled entries, not at the first one."""
    from connectors.walk import WALK_OPTIONS, Entry, ListingWalk, WalkState

    pages = {"1": ([Entry("p", pinned=True), Entry("a", stamp=""), Entry("b", stamp="已回复"),
                    Entry("c", stamp="")], "2"),
             "2": ([Entry("d", stamp=""), Entry("a", stamp=""), Entry("e", stamp="")], "3"),
             "3": ([Entry("f", stamp="")], None)}
    stored = {"p": "", "b": "", "c": None, "d": "", "e": "", "f": ""}
    asked: list[str] = []

    async def read(ref: str) -> tuple[list[Entry], str | None]:
        asked.append(ref)
        return pages[ref]

    async def lookup(ids: list[str]) -> dict[str, str | None]:
        return {i: stored[i] for i in ids if i in stored}

    options = {o.name: o.default for o in WALK_OPTIONS} | {"stop_after_known": 3,
                                                           "recheck_hours": 0}
    warnings: list[str] = []
    walk = ListingWalk(read, KnownItems(lookup, True), options, warnings.append)
    entries, state = await walk.run("1", WalkState())
    assert [e.external_id for e in entries] == ["a", "b"]
    assert asked == ["1", "2"] and warnings == [] and state.gaps == []
    short = ListingWalk(read, KnownItems(lookup, True), options | {"max_pages": 1},
                        warnings.append)
    _, state = await short.run("1", WalkState())
    assert [g.ref for g in state.gaps] == ["1"] and "max_pages (1)" in warnings[0]
    assert WalkState.load(state.dump()).gaps[0].boundary == ["a", "b", "c"]
