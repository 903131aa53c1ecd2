"""Imitations of the channels, served by aiohttp on 127.0.0.1: the 12345 work-order
API, a news-app feed, a GBK message board, an RSS feed and a newest-first JSON list,
with faults to switch on (500s, 429 with Retry-After, slowness, truncated pages, a
changed layout) and the habits of real boards: pinned notices (置顶), lists ordered
by the latest reply, posts published late with their original date (审核后公开),
replies added days later.

The demo runs them so a newcomer's hub has live channels to pull; the tests run
them to check every connector against something real. ``imitation_options`` says
how a city would configure each kind against them: a new connector kind needs an
entry there (the channel contract test says so).
"""

from __future__ import annotations

import asyncio
import csv
import html
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

TZ = ZoneInfo("Asia/Shanghai")
PAGE = 10


@dataclass
class Message:
    id: int
    title: str
    body: str
    at: datetime
    votes: int = 0
    reply: str | None = None
    name: str = "市民"
    phone: str | None = None
    replied_at: datetime | None = None
    touched: int = 0  # the board's activity order: raised when posted or replied to


@dataclass
class Faults:
    fail_next: int = 0  # answer this many requests with 500
    throttle_next: int = 0  # answer this many with 429 + Retry-After
    retry_after: str = "1"
    delay: float = 0.0  # seconds before every answer
    truncate: set[int] = field(default_factory=set)  # detail pages cut short
    truncate_once: set[int] = field(default_factory=set)  # cut short on the first request
    layout_changed: bool = False  # list pages without the expected markup
    requests: int = 0


def load_messages(path: Path, limit: int = 500, start: datetime | None = None) -> list[Message]:
    """``limit`` messages from a CSV with 留言主题/留言详情 (the shared data or the
    seed corpus)."""
    start = start or datetime(2026, 11, 1, 8, tzinfo=TZ)
    rows = []
    with path.open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            title, body = (row.get("留言主题") or "").strip(), (row.get("留言详情") or "").strip()
            if title and body:
                rows.append((title, body, row.get("答复意见") or None, row.get("点赞数") or "0"))
            if len(rows) >= limit:
                break
    # a small file (the seed corpus) is cycled so callers always get ``limit``
    # messages; a repeat says so, as a citizen writing again would
    first = len(rows)
    while first and len(rows) < limit:
        t, b, r, v = rows[len(rows) % first]
        rows.append((t, f"{b}（第{len(rows) // first + 1}次反映）", r, v))
    rng = random.Random(17)
    return [Message(id=1000 + i, title=t, body=b, reply=r,
                    votes=int(v) if str(v).isdigit() else 0,
                    at=start + timedelta(minutes=37 * i),
                    name=rng.choice(["张先生", "李女士", "王师傅", "刘阿姨"]),
                    phone=f"13{rng.randint(100000000, 999999999)}")
            for i, (t, b, r, v) in enumerate(rows)]


class Channels:
    """All imitations over one list of messages, in the order they were published
    (oldest first; a post approved late is published now with its old date)."""

    def __init__(self, messages: list[Message], board_encoding: str = "gbk",
                 board_order: str = "posted") -> None:
        self.messages = messages
        self.by_id = {m.id: m for m in messages}
        self.faults = Faults()
        self.board_encoding = board_encoding
        self.board_order = board_order  # "posted" | "reply" (latest activity first)
        self.pinned: list[Message] = []  # notices pinned (置顶) on top of page 1
        self._tick = 0
        for m in messages:
            self._touch(m)

    def _touch(self, message: Message) -> None:
        self._tick += 1
        message.touched = self._tick

    def add(self, message: Message) -> None:
        self.messages.append(message)
        self.by_id[message.id] = message
        self._touch(message)

    def answer(self, message_id: int, reply: str, at: datetime | None = None) -> None:
        """A department replies to a message: the board shows 已回复 and, ordered by
        reply, moves the thread to the top."""
        message = self.by_id[message_id]
        message.reply = reply
        message.replied_at = at or datetime.now(TZ)
        self._touch(message)

    @web.middleware
    async def _faults(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.faults.requests += 1
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            return web.Response(status=500, text="服务器繁忙，请稍后再试")
        if self.faults.throttle_next > 0:
            self.faults.throttle_next -= 1
            return web.Response(status=429, text="请求过于频繁",
                                headers={"Retry-After": self.faults.retry_after})
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults])
        # handlers are looked up per request, so a test can swap one while serving
        for path, name in (("/hotline/workorders", "hotline"), ("/newsapp/posts", "newsapp"),
                           ("/board/list", "board_list"), ("/board/detail/{id}", "board_detail"),
                           ("/rss.xml", "rss"), ("/gov/messages", "latest_json")):
            app.router.add_get(path, self._dispatch(name))
        return app

    def _dispatch(self, name: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.StreamResponse:
            return await getattr(self, name)(request)  # type: ignore[no-any-return]
        return handler

    # -- 12345 work-order API (oldest first, cursor = offset) --------------------------
    async def hotline(self, request: web.Request) -> web.Response:
        start = int(request.query.get("cursor", "0") or 0)
        limit = min(100, int(request.query.get("limit", "10")))
        page = self.messages[start:start + limit]
        items = [{"id": f"GD{m.id}", "title": m.title, "content": m.body,
                  "created_at": m.at.strftime("%Y-%m-%d %H:%M:%S"), "caller_name": m.name,
                  "caller_phone": m.phone} for m in page]
        nxt = str(start + limit) if start + limit < len(self.messages) else None
        return web.json_response({"items": items, "next_cursor": nxt})

    # -- news-app feed ------------------------------------------------------------------
    async def newsapp(self, request: web.Request) -> web.Response:
        start = int(request.query.get("cursor", "0") or 0)
        page = self.messages[start:start + PAGE]
        posts = [{"post_id": f"P{m.id}", "subject": m.title, "content": m.body,
                  "publish_time": m.at.isoformat(),
                  "update_time": (m.replied_at or m.at).isoformat(),
                  "nickname": m.name, "likes": m.votes,
                  "replies": [{"dept": "相关部门", "content": m.reply, "time": m.at.isoformat()}]
                  if m.reply else []} for m in page]
        nxt = str(start + PAGE) if start + PAGE < len(self.messages) else None
        return web.json_response({"code": 0, "data": {"posts": posts, "next_cursor": nxt}})

    # -- message board (newest first, GBK) -----------------------------------------------
    def _encode(self, text: str) -> web.Response:
        charset = self.board_encoding
        body = text.replace("{charset}", charset).encode(charset, errors="xmlcharrefreplace")
        return web.Response(body=body, content_type="text/html", charset=charset)

    def board_listing(self) -> list[Message]:
        """The board's list, newest first: by publication, or by the latest reply."""
        if self.board_order == "reply":
            return sorted(self.messages, key=lambda m: m.touched, reverse=True)
        return list(reversed(self.messages))

    def board_page(self, page_no: int) -> tuple[list[Message], int]:
        """One page of the list and the list's length (a page by publication is cut
        from the end without copying the whole board)."""
        total = len(self.messages)
        if self.board_order == "reply":
            return self.board_listing()[(page_no - 1) * PAGE:page_no * PAGE], total
        hi, lo = total - (page_no - 1) * PAGE, max(0, total - page_no * PAGE)
        return list(reversed(self.messages[lo:max(hi, 0)])), total

    def _row(self, m: Message, pinned: bool = False) -> str:
        state = (f"<span class='state'>已回复 {m.replied_at:%m-%d %H:%M}</span>" if m.replied_at
                 else f"<span class='state'>{'已回复' if m.reply else '待回复'}</span>")
        top = "<span class='top'>[置顶]</span>" if pinned else ""
        return (f"<li class='msg'>{top}<a class='title' href='detail/{m.id}'>"
                f"{html.escape(m.title)}</a><span class='time'>{m.at:%Y年%m月%d日 %H:%M}</span>"
                f"<span class='votes'>{m.votes}人赞同</span>{state}</li>")

    async def board_list(self, request: web.Request) -> web.Response:
        page_no = max(1, int(request.query.get("page", "1")))
        page, total = self.board_page(page_no)
        if self.faults.layout_changed:
            rows = "".join(f"<div class='card'>{html.escape(m.title)}</div>" for m in page)
        else:
            pinned = self.pinned if page_no == 1 else []
            rows = "".join(self._row(m, pinned=True) for m in pinned)
            rows += "".join(self._row(m) for m in page)
        nxt = (f"<a class='next' href='list?page={page_no + 1}'>下一页</a>"
               if page_no * PAGE < total else "")
        return self._encode(f"<html><head><meta charset='{{charset}}'><title>问政留言板</title>"
                            f"</head><body><ul class='messages'>{rows}</ul>{nxt}</body></html>")

    async def board_detail(self, request: web.Request) -> web.Response:
        wanted = int(request.match_info["id"])
        msg = self.by_id.get(wanted) or next((m for m in self.pinned if m.id == wanted), None)
        if msg is None:
            raise web.HTTPNotFound()
        reply = f"<div class='reply'>{html.escape(msg.reply)}</div>" if msg.reply else ""
        page = (f"<html><head><meta charset='{{charset}}'></head><body><h1>"
                f"{html.escape(msg.title)}</h1><span class='date'>{msg.at:%Y-%m-%d %H:%M}</span>"
                f"<div class='content'>{html.escape(msg.body)}</div>{reply}</body></html>")
        if wanted in self.faults.truncate or wanted in self.faults.truncate_once:
            self.faults.truncate_once.discard(wanted)
            page = page[:page.index("<div class='content'>") + 10]
        return self._encode(page)

    # -- RSS ------------------------------------------------------------------------------
    async def rss(self, request: web.Request) -> web.Response:
        latest = int(request.query.get("limit", "50"))  # feeds carry their newest items
        items = "".join(
            f"<item><title>{html.escape(m.title)}</title><link>http://gov.example/msg/{m.id}"
            f"</link><guid>msg-{m.id}</guid><pubDate>{format_datetime(m.at)}</pubDate>"
            f"<description>{html.escape(m.body)}</description></item>"
            for m in reversed(self.messages[-latest:]))
        body = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                f"<title>政民互动</title>{items}</channel></rss>")
        return web.Response(text=body, content_type="application/rss+xml")


    # -- a 政务 platform's JSON message list, newest first, by page number ----------------
    async def latest_json(self, request: web.Request) -> web.Response:
        page_no = max(1, int(request.query.get("page", "1")))
        page, total = self.board_page(page_no)
        rows = [{"msg_id": m.id, "title": m.title, "content": m.body, "is_top": pinned,
                 "post_time": m.at.strftime("%Y-%m-%d %H:%M:%S"),
                 "modify_time": (m.replied_at or m.at).strftime("%Y-%m-%d %H:%M:%S"),
                 "reply": m.reply} for m, pinned in
                [*((p, True) for p in (self.pinned if page_no == 1 else [])),
                 *((m, False) for m in page)]]
        return web.json_response({"status": "success", "data": {
            "list": rows, "has_more": page_no * PAGE < total}})


def board_options(base: str) -> dict[str, object]:
    """Selectors for the imitation board, as a city would write them in sources.toml."""
    return {"list_url": f"{base}/board/list?page=1", "item": "li.msg", "link": "a.title",
            "time": "span.time", "votes": "span.votes", "next": "a.next",
            "updated": "span.state", "pinned": "span.top",
            "body": "div.content", "reply": "div.reply", "detail_time": "span.date",
            "id_pattern": r"/detail/(\d+)"}


IMITATED: dict[str, Callable[[str], dict[str, object]]] = {
    "hotline": lambda base: {"url": f"{base}/hotline/workorders", "page_size": 10},
    "newsapp": lambda base: {"url": f"{base}/newsapp/posts"},
    "board": board_options,
    "rss": lambda base: {"url": f"{base}/rss.xml"},
    # a county's own hub (hub/api/ledger.py), not an imitation: base is that hub
    "subplatform": lambda base: {"url": f"{base}/api/v1/ledger", "api_key": "dev-ledger-key",
                                 "page_size": 10},
}


def imitation_options(kind: str, base: str) -> dict[str, object]:
    """How a city would configure a source of ``kind`` against these imitations."""
    if kind not in IMITATED:
        raise KeyError(
            f"connector kind {kind!r} has no imitation: add a handler serving realistic "
            f"Chinese content to Channels in hub/simulate.py, and an entry "
            f"IMITATED[{kind!r}] = lambda base: {{...its options...}} beside it")
    return IMITATED[kind](base)
