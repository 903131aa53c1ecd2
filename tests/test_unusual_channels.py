"""Channels the imitations in hub/simulate.py do not cover, each written here as a
small server: a board whose links carry a session id, one whose threads cannot all
be read, lists whose paging loops, JSON cursors that come back, GB2312 feeds and
Atom entries with several links. Each pull ends, stores every readable item once,
and says what it could not do."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web
from sqlalchemy import select

from connectors.jsonapi import CursorPaging, JsonApiConnector, MaxIdPaging, PageNumberPaging
from connectors.registry import registered
from connectors.replay import refetch
from connectors.runner import pull
from hub.models import QuarantinedItem
from hub.settings import Settings
from tests.channelutil import FAST, hub_with_source, stored_ids

THREADS = [(100 + i, f"A{i % 9 + 1}区幸福路{i}号路灯不亮",
            f"幸福路{i}号附近路灯坏了一周，晚上很黑（{i}）") for i in range(12)]
BOARD = {"item": "li.msg", "link": "a", "body": "div.content", "next": "a.next",
         "time": "span.time"}


def board_app(*, session_ids: bool = False, broken: dict[int, int] | None = None,
              next_of_last: str | None = None) -> web.Application:
    """Two list pages of six threads, newest first. ``session_ids``: every link
    carries a fresh ;jsessionid and ?PHPSESSID; ``broken``: thread id -> HTTP status
    its detail page answers; ``next_of_last``: where page 2's 下一页 link leads."""
    counter = itertools.count()
    broken = broken if broken is not None else {}

    async def listing(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        rows = THREADS[::-1][(page - 1) * 6: page * 6]
        items = []
        for tid, title, _ in rows:
            sid = f";jsessionid={next(counter):08X}" if session_ids else ""
            query = f"?PHPSESSID=s{next(counter)}&tid={tid}" if session_ids else f"?tid={tid}"
            items.append(f'<li class="msg"><a href="/t{sid}{query}">{title}</a>'
                         f'<span class="time">2026-11-0{tid % 9 + 1} 09:00</span></li>')
        nxt = "/list?page=2" if page == 1 else next_of_last
        link = f'<a class="next" href="{nxt}">下一页</a>' if nxt else ""
        return web.Response(text=f"<html><ul>{''.join(items)}</ul>{link}</html>",
                            content_type="text/html", charset="utf-8")

    async def detail(request: web.Request) -> web.Response:
        tid = int(request.query["tid"])
        if tid in broken:
            return web.Response(status=broken[tid], text="error")
        body = next(b for t, _, b in THREADS if t == tid)
        return web.Response(text=f'<div class="content">{body}</div>', content_type="text/html",
                            charset="utf-8")

    app = web.Application()
    app.router.add_get("/list", listing)
    app.router.add_get("/t", detail)
    app.router.add_get("/t;{rest}", detail)
    return app


async def _base(aiohttp_server: Any, app: web.Application) -> str:
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


def _board(settings: Settings, tmp_path: Path, base: str, **extra: Any) -> Any:
    return hub_with_source(settings, tmp_path, "board",
                           {**FAST, "list_url": f"{base}/list", **BOARD, **extra}, name="b")


async def test_session_ids_in_links_do_not_make_threads_new_again(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    hub = _board(settings, tmp_path, await _base(aiohttp_server, board_app(session_ids=True)))
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, "b", http)
            second = await pull(hub, "b", http)
        assert (first["new"], first["status"]) == (12, "ok")
        assert (second["new"], second["fetched"]) == (0, 0)
        assert stored_ids(hub, "b") == sorted(f"/t?tid={t}" for t, _, _ in THREADS)
    finally:
        hub.close()


async def test_one_unreadable_thread_does_not_stop_the_others(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    """A thread deleted after listing (404) and one whose page always fails (503) are
    quarantined with the address to read them again; every other thread is stored
    and the walk's state is kept, so the next pull does not start over."""
    broken = {103: 404, 108: 503}
    hub = _board(settings, tmp_path, await _base(aiohttp_server, board_app(broken=broken)))
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, "b", http)
            assert (first["new"], first["quarantined"], first["error"]) == (10, 2, None)
            with hub.sessions() as s:
                held = list(s.scalars(select(QuarantinedItem).order_by(QuarantinedItem.id)))
            assert sorted(q.external_id for q in held) == ["/t?tid=103", "/t?tid=108"]
            assert all("detail page unreadable" in q.reason for q in held)
            broken.clear()  # the board is fixed: the operator reads them again
            replayed = [await refetch(hub, item.id, http) for item in held]
            assert len(set(replayed)) == 2
            again = await pull(hub, "b", http)
            assert again["new"] == 0
        assert len(stored_ids(hub, "b")) == 12
    finally:
        hub.close()


async def test_a_board_that_is_down_fails_the_pull_instead_of_quarantining_it(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    every = {t: 503 for t, _, _ in THREADS}
    hub = _board(settings, tmp_path, await _base(aiohttp_server, board_app(broken=every)))
    try:
        async with aiohttp.ClientSession() as http:
            down = await pull(hub, "b", http)
        assert down["status"] == "error" and "503" in down["error"]
        assert down["quarantined"] == 2 and down["new"] == 0  # then it stopped
        with hub.sessions() as s:
            assert s.scalar(select(QuarantinedItem.id).where(
                QuarantinedItem.external_id == "/t?tid=102")) is None
    finally:
        hub.close()


async def test_a_next_link_back_to_the_first_page_ends_the_walk(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    app = board_app(next_of_last="/list?page=1")
    hub = _board(settings, tmp_path, await _base(aiohttp_server, app), max_pages=5)
    try:
        async with aiohttp.ClientSession() as http:
            first = await pull(hub, "b", http)
        assert first["new"] == 12
        assert len(first["warnings"]) == 1 and "leads back" in first["warnings"][0]
        assert not any("max_pages" in w for w in first["warnings"])
    finally:
        hub.close()


RECORDS = [{"id": i, "content": f"A2区公园路{i}号噪音扰民，晚上施工到十二点（{i}）",
            "title": f"噪音扰民{i}"} for i in range(1, 13)]


class LoopingCursorConnector(JsonApiConnector):
    """an API whose cursors come round again"""

    kind = "loopcursor-test"
    records = "items"
    paging = CursorPaging("cursor", "next")

    def fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"body": record.get("content"), "title": record.get("title")}


class StuckMaxIdConnector(LoopingCursorConnector):
    """an API that always says there is more"""

    kind = "stuckmaxid-test"
    paging = MaxIdPaging("after", "more")


class LastPageAgainConnector(LoopingCursorConnector):
    """an API that serves its last page for any page number past the end"""

    kind = "lastpage-test"
    paging = PageNumberPaging("page", 1)
    fixed: ClassVar[dict[str, str]] = {}


def json_app() -> web.Application:
    async def cursor(request: web.Request) -> web.Response:
        at = {"": 0, "a": 1, "b": 2}[request.query.get("cursor", "")]
        nxt = ["a", "b", "a"][at]  # '' -> a -> b -> a -> ...
        return web.json_response({"items": RECORDS[at * 4:(at + 1) * 4], "next": nxt})

    async def maxid(request: web.Request) -> web.Response:
        after = int(request.query["after"])
        page = [r for r in RECORDS if r["id"] > after][:5]
        return web.json_response({"items": page or RECORDS[-1:], "more": True})

    async def numbered(request: web.Request) -> web.Response:
        page = min(int(request.query["page"]), 3)
        return web.json_response({"items": RECORDS[::-1][(page - 1) * 4: page * 4]})

    app = web.Application()
    app.router.add_get("/cursor", cursor)
    app.router.add_get("/maxid", maxid)
    app.router.add_get("/numbered", numbered)
    return app


async def test_json_apis_whose_paging_never_ends_still_end_the_pull(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    base = await _base(aiohttp_server, json_app())
    cases = [(LoopingCursorConnector, "cursor", "cursor"),
             (StuckMaxIdConnector, "maxid", "no greater id"),
             (LastPageAgainConnector, "numbered", None)]
    for cls, path, warning in cases:
        with registered(cls):
            hub = hub_with_source(settings, tmp_path / path, cls.kind,
                                  {**FAST, "url": f"{base}/{path}"}, name=path)
            try:
                async with aiohttp.ClientSession() as http:
                    summary = await pull(hub, path, http)
                assert summary["error"] is None, (path, summary)
                assert len(stored_ids(hub, path)) == 12, path
                if warning:
                    assert len(summary["warnings"]) == 1 and warning in summary["warnings"][0]
                else:
                    assert summary["warnings"] == [], summary["warnings"]
            finally:
                hub.close()


def feed_app() -> web.Application:
    items = "".join(
        f"<item><title>{title}</title><link>http://gov.example/m/{tid}</link>"
        f"<guid>m-{tid}</guid><description>{body}</description>"
        f"<pubDate>Mon, 02 Nov 2026 09:0{i % 10}:00 +0800</pubDate></item>"
        for i, (tid, title, body) in enumerate(THREADS[:5]))
    gb = ('<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel>'
          f"<title>市长信箱</title>{items}</channel></rss>").encode("gb2312")
    atom = ('<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>问政</title>'
            + "".join(
                f'<entry><title>{title}</title>'
                f'<link rel="edit" href="http://gov.example/edit/{tid}"/>'
                f'<link rel="alternate" href="http://gov.example/m/{tid}"/>'
                f'<updated>2026-11-02T09:00:00+08:00</updated>'
                f'<content type="html">&lt;p&gt;{body}&lt;/p&gt;</content></entry>'
                for tid, title, body in THREADS[5:8])
            + "</feed>").encode("utf-8")

    async def gb_feed(_: web.Request) -> web.Response:
        return web.Response(body=gb, content_type="text/xml")

    async def atom_feed(_: web.Request) -> web.Response:
        return web.Response(body=atom, content_type="application/atom+xml")

    app = web.Application()
    app.router.add_get("/gb.xml", gb_feed)
    app.router.add_get("/atom.xml", atom_feed)
    return app


async def test_a_gb2312_feed_and_atom_entries_with_several_links(
        aiohttp_server: Any, settings: Settings, tmp_path: Path) -> None:
    base = await _base(aiohttp_server, feed_app())
    for path, expected in (("gb.xml", [f"m-{t}" for t, _, _ in THREADS[:5]]),
                           ("atom.xml", [f"http://gov.example/m/{t}" for t, _, _ in THREADS[5:8]])):
        name = path.split(".")[0]
        hub = hub_with_source(settings, tmp_path / name, "rss", {**FAST, "url": f"{base}/{path}"},
                              name=name)
        try:
            async with aiohttp.ClientSession() as http:
                summary = await pull(hub, name, http)
            assert (summary["error"], summary["quarantined"]) == (None, 0), summary
            assert stored_ids(hub, name) == sorted(expected)
            with hub.sessions() as s:
                from hub.models import Appeal
                rows = s.execute(select(Appeal.body, Appeal.raw)).all()
            assert all("路灯坏了" in body for body, _ in rows)
            assert all("/edit/" not in json.dumps(raw) for _, raw in rows)
        finally:
            hub.close()
