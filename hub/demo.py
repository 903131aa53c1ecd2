"""``hub demo``: a hub on SQLite with simulated channels feeding it.

Simulated operators post appeals from the repo's seed corpus through the real
intake API (with the development key), and imitations of the 12345 work-order
system, a news app, a GBK message board and an RSS feed (hub.simulate) are pulled
by the real connectors on a schedule, so a newcomer sees the whole path:
channel -> queue -> router -> case -> inbox.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import random
import shutil
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from classifiers.train import SEED_CORPUS
from hub.app import create_app
from hub.core import Hub
from hub.settings import Settings, load_settings
from hub.simulate import Channels
from hub.surge.simulate import event, post_burst

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


DEMO_PASSWORD = "demo-lantern-orbit"  # strong enough for zxcvbn (hub.security.passwords)
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
                # 住建's account is its unit's head: it hears every stage of the warnings
                add_user(s, username, DEMO_PASSWORD, role, name, unit, head=username == "zhujian")
    return [u[0] for u in DEMO_USERS]


def demo_config(settings: Settings, channels_base: str) -> Path:
    """The city's config plus the imitation channels as pull sources (every 20 s)."""
    from hub.settings import REPO_ROOT
    from hub.simulate import board_options

    folder = settings.var_dir / "demo-config"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "config", folder)
    sources = {
        "demo-hotline": ("hotline", "12345热线工单系统(模拟)",
                         {"url": f"{channels_base}/hotline/workorders"}),
        "demo-newsapp": ("newsapp", "新闻客户端“有话请您说”(模拟)",
                         {"url": f"{channels_base}/newsapp/posts"}),
        "demo-board": ("board", "问政留言板(模拟, GBK)", board_options(channels_base)),
        "demo-rss": ("rss", "政民互动RSS(模拟)", {"url": f"{channels_base}/rss.xml"}),
    }
    with (folder / "sources.toml").open("a", encoding="utf-8") as fh:
        for name, (kind, title, options) in sources.items():
            fh.write(f'\n[[sources]]\nname = "{name}"\nkind = "{kind}"\ntitle = "{title}"\n'
                     "interval_seconds = 20\n")
            for key, value in options.items():
                fh.write(f"{key} = {json.dumps(value, ensure_ascii=False)}\n")
    return folder


async def grow(channels: Channels, rows: list[dict[str, str]], stop: asyncio.Event,
               every: float = 15.0) -> None:
    """New messages keep arriving on the imitated channels."""
    from datetime import datetime

    from hub.simulate import TZ, Message

    next_id = 50_000
    while not stop.is_set():
        row = random.choice(rows)
        channels.add(Message(id=next_id, title=row["留言主题"], body=row["留言详情"],
                             at=datetime.now(TZ), votes=random.randint(0, 30)))
        next_id += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass


def prepare_history(settings: Settings) -> None:
    """Several weeks of past cases on the first start (hub/demo_history.py)."""
    from hub.demo_history import seed_history

    hub = Hub.open(settings)
    try:
        if hub.settings.env != "dev":
            raise RuntimeError("demo history is made only with HUB_ENV=dev")
        print("hub demo: making six weeks of past cases (first start only) ...", flush=True)
        made = seed_history(hub)
        if made:
            print(f"  {made.get('cases', 0)} cases, reports published for "
                  f"{', '.join(made['published'])}", flush=True)
        from hub.db import transaction
        from hub.knowledge.demo_articles import seed
        from hub.models import utcnow

        with transaction(hub.sessions) as s:  # the knowledge base operators answer from
            tz = ZoneInfo(hub.config.deadlines.timezone)
            articles = seed(s, utcnow().astimezone(tz).date(),
                            tuple(hub.config.routing.categories))
        if articles:
            print(f"  {articles} knowledge-base articles", flush=True)
        from hub.catalogue.demo import seed as seed_catalogue

        with transaction(hub.sessions) as s:  # a few 派单目录 lines the router follows
            seed_catalogue(s, hub.config, utcnow().astimezone(tz).date())
    finally:
        hub.close()


def run_demo(host: str | None = None, port: int | None = None, rate: float = 0.5) -> int:
    """Serve the demo on HUB_HOST/HUB_PORT (flags win), the channel imitations on
    HUB_DEMO_CHANNELS_PORT (else the next port)."""
    from datetime import datetime, timedelta

    from hub.simulate import TZ, load_messages

    settings = load_settings()
    settings = settings.with_overrides(host=host or settings.host,
                                       port=port or settings.port).check()
    port = settings.port
    channels_port = settings.demo_channels_port or port + 1
    channels = Channels(load_messages(SEED_CORPUS, limit=30,
                                      start=datetime.now(TZ) - timedelta(days=2)))
    settings = settings.with_overrides(
        config_dir=demo_config(settings, f"http://127.0.0.1:{channels_port}"))
    prepare_history(settings)
    app = create_app(settings)
    stop = asyncio.Event()
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    with SEED_CORPUS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    async def start_sim(app: web.Application) -> None:
        await app["hub"].run(create_demo_users, app["hub"])
        runner = web.AppRunner(channels.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", channels_port).start()
        app["channels_runner"] = runner
        key = next(s.dev_api_key for s in app["hub"].config.sources if s.name == "hotline-push")
        app["sim"] = [
            asyncio.create_task(simulate_hotline(f"http://{shown}:{port}", key or "", rate,
                                                 stop)),
            asyncio.create_task(grow(channels, rows, stop)),
            # a burst water main: 40 callers in the first two minutes raise a surge (热点突发)
            asyncio.create_task(post_burst(f"http://{shown}:{port}", key or "", event(0), 40,
                                           120, stop, seed=int(datetime.now().timestamp())))]

    async def stop_sim(app: web.Application) -> None:
        stop.set()
        await asyncio.gather(*app["sim"])
        await app["channels_runner"].cleanup()

    app.on_startup.append(start_sim)
    app.on_shutdown.append(stop_sim)
    accounts = ", ".join(u[0] for u in DEMO_USERS)
    print(f"hub demo: inbox http://{shown}:{port}/login  public http://{shown}:{port}/\n"
          f"  staff accounts: {accounts} (password: {DEMO_PASSWORD})\n"
          f"  channels imitated on http://127.0.0.1:{channels_port}/ and pulled every 20 s\n"
          f"  API: http://{shown}:{port}/api/v1/openapi.json   Ctrl-C stops", flush=True)
    web.run_app(app, host=settings.host, port=port, access_log=None, print=None)
    return 0
