"""Callers of a hot event, for tests, the soak benchmark and demonstrations.

A burst water main or a cut bus route brings thousands of calls that tell the same
matter, each in a caller's own way: the same core (where, what, what it causes),
a few words of their own (which building, how long), now and then another word for
the same thing. Deterministic for a given seed.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class HotEvent:
    county: str
    core: str  # the matter as most callers put it
    swaps: tuple[tuple[str, str], ...]  # other words callers use for the same thing
    details: tuple[str, ...]  # what a caller adds of their own ({n}: a number)
    asks: tuple[str, ...]


EVENTS = (
    HotEvent("A3区", "A3区桂花路与芙蓉路交叉口自来水主管道爆裂，路面大面积积水，"
             "周边桂花苑、芙蓉里等小区从早上开始全部停水，老人小孩做饭喝水都成了问题，",
             (("爆裂", "破裂"), ("停水", "没水"), ("积水", "淹水"), ("全部", "都")),
             ("我家住在桂花苑{n}栋", "我在{n}号楼", "已经停了{n}个小时", "家里有{n}位老人",
              "店里生意做不了", "小孩明天要上学"),
             ("请尽快抢修。", "希望尽快恢复供水。", "请派送水车。", "请告知什么时候来水。")),
    HotEvent("A7县", "A7县星沙街道公交12路今天起突然停运，没有任何通知，"
             "沿线学生和上班族早上在站台等了很久都没有车，只能打车或者步行很远，",
             (("停运", "停开"), ("通知", "公告"), ("站台", "车站")),
             ("我在{n}站等车", "孩子在星沙{n}中上学", "等了{n}分钟", "每天要坐{n}趟"),
             ("请恢复线路。", "请说明原因。", "希望安排替代公交。")),
    HotEvent("A5区", "A5区湘江中路{n}号附近燃气管道泄漏，空气里有很重的燃气味，"
             "附近居民和商铺都很害怕，物业说已经报修但还没有人来处理，",
             (("泄漏", "漏气"), ("很重", "很浓"), ("害怕", "担心")),
             ("我住在对面{n}楼", "我家离那里{n}米", "闻到味道{n}个小时了"),
             ("请马上派人处理。", "请排查安全隐患。")),
)


def event(index: int) -> HotEvent:
    """The ``index``-th event (cycling through EVENTS with another number)."""
    base = EVENTS[index % len(EVENTS)]
    if index < len(EVENTS):
        return base
    return HotEvent(base.county, base.core.replace("，", f"（第{index}处），", 1),
                    base.swaps, base.details, base.asks)


def caller_text(hot: HotEvent, rng: random.Random) -> str:
    """One caller's account of the event."""
    core = hot.core.replace("{n}", "18")
    for old, new in hot.swaps:
        if rng.random() < 0.15:
            core = core.replace(old, new)
    detail = rng.choice(hot.details).replace("{n}", str(rng.randint(1, 30)))
    return f"{core}{detail}，{rng.choice(hot.asks)}"


def callers(hot: HotEvent, count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [caller_text(hot, rng) for _ in range(count)]


async def post_burst(base_url: str, key: str, hot: HotEvent, count: int, seconds: float,
                     stop: asyncio.Event, seed: int = 1) -> None:
    """Post ``count`` callers of ``hot`` through the intake API over ``seconds`` (the
    demo's hot event, so a newcomer sees a surge raised within a minute or two)."""
    import aiohttp

    rng = random.Random(seed)
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            if stop.is_set():
                return
            item = {"external_id": f"hot-{seed}-{i}", "body": caller_text(hot, rng),
                    "contact_phone": f"139{rng.randint(10000000, 99999999)}"}
            try:
                async with session.post(f"{base_url}/api/v1/appeals", json=item,
                                        headers={"X-Api-Key": key}) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                pass  # the hub is starting or stopping; the next caller tries again
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds / max(count, 1))
            except TimeoutError:
                pass
