"""``hub demo``: a hub on SQLite with a simulated hotline feeding it.

The simulated operators post appeals from the repo's seed corpus through the real
intake API (with the development key), so a newcomer sees the whole path:
API -> queue -> router -> case.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import random
import uuid

import aiohttp
from aiohttp import web

from classifiers.train import SEED_CORPUS
from hub.app import create_app
from hub.core import Hub
from hub.settings import load_settings

log = logging.getLogger(__name__)


async def simulate_hotline(base_url: str, key: str, rate: float, stop: asyncio.Event) -> None:
    with SEED_CORPUS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            row = random.choice(rows)
            item = {"external_id": f"demo-{uuid.uuid4().hex[:12]}", "title": row["留言主题"],
                    "body": row["留言详情"], "contact_name": "张三",
                    "contact_phone": f"138{random.randint(10000000, 99999999)}"}
            try:
                async with session.post(f"{base_url}/api/v1/appeals", json=item,
                                        headers={"X-Api-Key": key}) as resp:
                    log.info("simulated call %s -> %s", item["external_id"], resp.status)
            except aiohttp.ClientError as exc:
                log.warning("simulated hotline could not reach the hub: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1 / max(rate, 0.01))
            except TimeoutError:
                pass


DEMO_PASSWORD = "demo-password"
DEMO_USERS = (  # username, role, unit, display name
    ("admin", "admin", None, "系统管理员"),
    ("dispatcher", "dispatcher", None, "派单员小陈"),
    ("supervisor", "supervisor", None, "督办科老刘"),
    ("operator", "operator", None, "话务员小王"),
    ("zhujian", "unit", "zhujian", "住建局办理员"),
    ("chengguan", "unit", "chengguan", "城管局办理员"),
    ("jiaotong", "unit", "jiaotong", "交通局办理员"),
)


def create_demo_users(hub: Hub) -> list[str]:
    """Demo accounts (development only): created once, all with DEMO_PASSWORD."""
    from sqlalchemy import select

    from hub.db import transaction
    from hub.models import User
    from hub.web.auth import add_user

    if hub.settings.env != "dev":
        raise RuntimeError("demo accounts exist only with HUB_ENV=dev")
    with transaction(hub.sessions) as s:
        existing = set(s.scalars(select(User.username)))
        for username, role, unit, name in DEMO_USERS:
            if username not in existing:
                add_user(s, username, DEMO_PASSWORD, role, name, unit)
    return [u[0] for u in DEMO_USERS]


def run_demo(port: int = 8080, rate: float = 0.5) -> int:
    settings = load_settings().with_overrides(port=port)
    app = create_app(settings)
    stop = asyncio.Event()

    async def start_sim(app: web.Application) -> None:
        await app["hub"].run(create_demo_users, app["hub"])
        key = next(s.dev_api_key for s in app["hub"].config.sources if s.name == "hotline-push")
        app["sim"] = asyncio.create_task(
            simulate_hotline(f"http://127.0.0.1:{port}", key or "", rate, stop))

    async def stop_sim(app: web.Application) -> None:
        stop.set()
        await app["sim"]

    app.on_startup.append(start_sim)
    app.on_shutdown.append(stop_sim)
    accounts = ", ".join(u[0] for u in DEMO_USERS)
    print(f"hub demo: inbox http://127.0.0.1:{port}/login  public http://127.0.0.1:{port}/\n"
          f"  staff accounts: {accounts} (password: {DEMO_PASSWORD})\n"
          f"  API: http://127.0.0.1:{port}/api/v1/openapi.json   Ctrl-C stops")
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
    return 0
