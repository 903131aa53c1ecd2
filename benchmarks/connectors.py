"""Connector benchmarks: pull 10,000 items from the local imitation of each channel
(items/s and the peak RSS of the pulling process) and the cost of parsing one
board page.

    python -m benchmarks.connectors [--items 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

Row = tuple[str, str, str]
KINDS = ("hotline", "newsapp", "board", "rss")


def _messages(n: int) -> list[Any]:
    from benchmarks.router import distinct_texts
    from hub.simulate import TZ, Message

    texts = distinct_texts(n)
    start = datetime(2026, 1, 1, tzinfo=TZ)
    return [Message(id=i + 1, title=t.split("\n")[0][:40] or "留言", body=t,
                    at=start + timedelta(minutes=i), votes=i % 50) for i, t in enumerate(texts)]


async def _pull(kind: str, n: int, folder: Path) -> dict[str, Any]:
    import shutil

    from aiohttp import ClientSession, web

    from connectors.runner import pull
    from hub.core import Hub
    from hub.settings import REPO_ROOT, Settings
    from hub.simulate import Channels, board_options

    channels = Channels(_messages(n))
    runner = web.AppRunner(channels.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    options: dict[str, Any] = {
        "hotline": {"url": f"{base}/hotline/workorders", "page_size": 100},
        "newsapp": {"url": f"{base}/newsapp/posts"},
        "board": {**board_options(base), "max_pages": n},
        "rss": {"url": f"{base}/rss.xml?limit={n}", "max_response_bytes": 64 << 20}}[kind]
    config = folder / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    with (config / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[sources]]\nname = "bench"\nkind = "{kind}"\ntitle = "bench"\n'
                 'min_interval_seconds = 0\n')
        for key, value in options.items():
            fh.write(f"{key} = {json.dumps(value)}\n")
    hub = Hub.open(Settings(env="test", database_url=f"sqlite:///{folder / 'c.sqlite3'}",
                            var_dir=folder, config_dir=config))
    try:
        async with ClientSession() as http:
            t0 = time.perf_counter()
            summary = await pull(hub, "bench", http, batch_size=500)
            seconds = time.perf_counter() - t0
    finally:
        hub.close()
        await runner.cleanup()
    return {"new": summary["new"], "seconds": seconds, "error": summary["error"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def parse_cost(pages: int = 300) -> Row:
    from connectors.board import BoardConnector
    from hub.simulate import board_options

    msgs = _messages(pages)
    connector = BoardConnector("bench", board_options("http://x"), None)
    raws = []
    for m in msgs:
        page = (f"<html><head><meta charset='gbk'></head><body><h1>{m.title}</h1>"
                f"<span class='date'>{m.at:%Y-%m-%d %H:%M}</span><div class='content'>{m.body}"
                "</div></body></html>").encode("gbk", errors="xmlcharrefreplace")
        context = {"url": f"http://x/detail/{m.id}", "external_id": str(m.id), "title": m.title,
                   "time": None, "votes": None, "charset": "gbk"}
        raws.append(json.dumps(context).encode() + b"\n\n" + page)
    t0 = time.perf_counter()
    for raw in raws:
        connector.parse(raw)
    per_page = (time.perf_counter() - t0) / pages * 1000
    return ("board: parse one GBK detail page (BeautifulSoup)", f"{per_page:.2f} ms", "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--kind", choices=KINDS)
    args = parser.parse_args()
    if args.kind:
        result = asyncio.run(_pull(args.kind, args.items, Path(tempfile.mkdtemp())))
        print(json.dumps(result))
        return 0
    rows: list[Row] = []
    for kind in KINDS:
        n = args.items
        proc = subprocess.run([sys.executable, "-m", "benchmarks.connectors", "--kind", kind,
                               "--items", str(n)], capture_output=True, text=True, check=False)
        if proc.returncode:
            rows.append((f"pull {kind}", "failed: " + proc.stderr.strip()[-80:], ""))
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append((f"pull {n:,} items: {kind}",
                     f"{r['new'] / r['seconds']:,.0f} items/s, {r['peak_rss_mb']:.0f} MiB"
                     + (f" ({r['error']})" if r["error"] else ""), ""))
    rows.append(parse_cost())
    from benchmarks.__main__ import print_table

    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
