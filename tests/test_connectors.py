"""Connectors against a real local HTTP server imitating the 12345 work-order API."""

from __future__ import annotations

import shutil

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from connectors.runner import pull
from hub.core import Hub
from hub.models import Appeal, QuarantinedItem, Source
from hub.settings import REPO_ROOT

CONTENTS = ["A7县星沙街道某小区下水道堵塞，污水漫进一楼住户家中",
            "A3区某学校食堂饭菜质量差，学生反映吃了肚子痛",
            "A1区某工地夜间施工噪音扰民，凌晨两点还在打桩",
            "A5区公交站台被占用，乘客只能站在机动车道上等车"]


def work_orders(n: int) -> list[dict]:  # type: ignore[type-arg]
    return [{"id": f"WO{i:05d}", "title": CONTENTS[i % 4][:12], "content": CONTENTS[i % 4],
             "created_at": f"2026-11-{1 + i % 20:02d} 09:{i % 60:02d}:00",
             "caller_name": "王五", "caller_phone": "13900001111"} for i in range(n)]


class FakeHotline:
    """Pages of 10 by cursor; optionally fails one page with a 500 once."""

    def __init__(self, items: list[dict], fail_page: int | None = None) -> None:  # type: ignore[type-arg]
        self.items = items
        self.fail_page = fail_page
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        start = int(request.query.get("cursor", "0"))
        if self.fail_page is not None and start == self.fail_page * 10:
            self.fail_page = None
            return web.Response(status=500, text="服务器内部错误")
        page = self.items[start:start + 10]
        nxt = str(start + 10) if start + 10 < len(self.items) else None
        return web.json_response({"items": page, "next_cursor": nxt})


@pytest.fixture
async def hotline_hub(settings, aiohttp_server, tmp_path):  # type: ignore[no-untyped-def]
    items = work_orders(45)
    items[7] = {"id": "WO-BAD", "title": "缺内容"}  # no content: quarantined
    fake = FakeHotline(items, fail_page=3)
    app = web.Application()
    app.router.add_get("/workorders", fake.handle)
    server = await aiohttp_server(app)
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    with (config / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "hotline"\nkind = "hotline"\ntitle = "12345热线"\n'
                 f'url = "{server.make_url("/workorders")}"\npage_size = 10\n'
                 'min_interval_seconds = 0\nbackoff_seconds = 0.01\n')
    hub = Hub.open(settings.with_overrides(config_dir=config))
    yield hub, fake
    hub.close()


async def test_pull_is_incremental_idempotent_and_quarantines(hotline_hub) -> None:  # type: ignore[no-untyped-def]
    hub, fake = hotline_hub
    async with aiohttp.ClientSession() as http:
        first = await pull(hub, "hotline", http, batch_size=5)
        assert first["error"] is None and first["retries"] == 1  # the 500 on page 4, retried
        second = await pull(hub, "hotline", http, batch_size=5)
        assert second["error"] is None and second["new"] == 0
        third = await pull(hub, "hotline", http, batch_size=5)
    with hub.sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Appeal))
        quarantined = list(s.scalars(select(QuarantinedItem)))
        src = s.scalar(select(Source).where(Source.name == "hotline"))
    assert stored == 44  # 45 work orders, one without content
    assert len(quarantined) == 1 and quarantined[0].external_id == "WO-BAD"
    assert b"\xe7\xbc\xba" in quarantined[0].raw  # the raw bytes (缺内容) are kept
    assert first["new"] + second["new"] == 44 and third["new"] == 0
    assert src.checkpoint == "40" and src.last_success_at is not None
