"""`hub pull NAME`, `hub sources` and `hub replay ID`."""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp


def cmd_pull(args: argparse.Namespace) -> int:
    from connectors.runner import pull
    from hub.core import Hub
    from hub.settings import load_settings

    async def run() -> dict[str, object]:
        hub = Hub.open(load_settings())
        try:
            async with aiohttp.ClientSession() as http:
                return await pull(hub, args.name, http)
        finally:
            hub.close()

    summary = asyncio.run(run())
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 1 if summary["error"] else 0


def cmd_sources(args: argparse.Namespace) -> int:
    from connectors.health import source_health
    from hub.core import Hub
    from hub.settings import load_settings

    hub = Hub.open(load_settings())
    try:
        print(json.dumps(source_health(hub), ensure_ascii=False, indent=2, default=str))
    finally:
        hub.close()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from connectors.replay import ReplayError, replay
    from hub.core import Hub
    from hub.settings import load_settings

    hub = Hub.open(load_settings())
    try:
        print(json.dumps({"item": args.item, "appeal": replay(hub, args.item)}))
    except ReplayError as exc:
        print(f"hub: {exc}")
        return 1
    finally:
        hub.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pull", help="pull one source once and print a JSON summary")
    p.add_argument("name")
    p.set_defaults(fn=cmd_pull)
    sub.add_parser("sources", help="health of every source (JSON)").set_defaults(fn=cmd_sources)
    p = sub.add_parser("replay", help="queue a quarantined item again once its parser is fixed")
    p.add_argument("item", type=int)
    p.set_defaults(fn=cmd_replay)
