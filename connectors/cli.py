"""`hub pull NAME`: run one source once and print a JSON summary."""

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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pull", help="pull one source once and print a JSON summary")
    p.add_argument("name")
    p.set_defaults(fn=cmd_pull)
