"""`hub pull`, `hub sources`, `hub quarantine`, `hub replay` and `hub source reset`:
what an operator needs to see and fix every channel. Failures are one line on
stderr and a non-zero exit code, never a traceback.

Exit codes: 0 done; 1 the pull (or replay) failed; 2 a wrong name or argument;
3 the pull finished but may have skipped items (see its warnings).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import aiohttp

from hub.core import Hub


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _fail(message: str, code: int = 2) -> int:
    print(f"hub: {message}", file=sys.stderr)
    return code


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:60]
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _hub() -> Iterator[Hub]:
    from hub.settings import load_settings

    hub = Hub.open(load_settings())
    try:
        yield hub
    finally:
        hub.close()


def _date(text: str) -> datetime:
    from hub.intake_schema import parse_datetime

    try:
        return parse_datetime(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (write 2026-11-20 or 2026-11-20 08:00)") from None


def _async(hub: Hub, make: Callable[[aiohttp.ClientSession], Any]) -> Any:
    async def run() -> Any:
        async with aiohttp.ClientSession(
                headers={"User-Agent": "hub/0.1 (+citizen appeals intake)"}) as http:
            return await make(http)
    return asyncio.run(run())


def cmd_pull(args: argparse.Namespace) -> int:
    from connectors.runner import NotPullable, pull

    with _hub() as hub:
        try:
            summary = _async(hub, lambda http: pull(hub, args.name, http))
        except NotPullable as exc:
            return _fail(str(exc))
    _print(summary)
    if summary["error"]:
        return _fail(f"pull of {args.name} failed: {summary['error']}", 1)
    if summary["warnings"]:
        return _fail(f"pull of {args.name} may have skipped items: "
                     + "; ".join(summary["warnings"]), 3)
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    if args.kinds:
        from connectors import reference

        print(reference.markdown() if args.markdown else reference.text())
        return 0
    from connectors.health import source_health

    with _hub() as hub:
        _print(source_health(hub))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from connectors.replay import QuarantineFilter, list_quarantine

    with _hub() as hub:
        if args.source and args.source not in hub.source_ids:
            return _fail(f"no source named {args.source!r}")
        rows = list_quarantine(hub, QuarantineFilter(
            source=args.source, reason=args.reason, since=args.since,
            include_replayed=args.all, limit=args.limit))
    if args.json:
        _print(rows)
        return 0
    if not rows:
        print("no quarantined items" + (" match" if args.source or args.reason or args.since
                                        else ""))
        return 0
    print(f"{'id':>6}  {'source':<16} {'when':<16} {'bytes':>8}  reason")
    for r in rows:
        done = "  [replayed]" if r["replayed_at"] else ""
        print(f"{r['id']:>6}  {r['source']:<16} {r['created_at']:%Y-%m-%d %H:%M} "
              f"{r['size']:>8}  {r['reason'][:120]}{done}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from connectors.replay import ReplayError, refetch, replay

    with _hub() as hub:
        try:
            if args.refetch:
                appeal = _async(hub, lambda http: refetch(hub, args.item, http, _actor()))
            else:
                appeal = replay(hub, args.item, _actor())
        except ReplayError as exc:
            return _fail(f"item {args.item}: {exc}", 1)
    _print({"item": args.item, "appeal": appeal, "refetched": args.refetch})
    return 0


def cmd_source_reset(args: argparse.Namespace) -> int:
    from connectors.replay import reset_source
    from connectors.runner import NotPullable

    with _hub() as hub:
        try:
            _print(reset_source(hub, args.name, args.since, _actor()))
        except NotPullable as exc:
            return _fail(str(exc))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pull", help="pull one source once and print a JSON summary")
    p.add_argument("name")
    p.set_defaults(fn=cmd_pull)
    p = sub.add_parser("sources", help="health of every source (JSON), or the channel kinds")
    p.add_argument("--kinds", action="store_true",
                   help="the channel kinds and their options instead")
    p.add_argument("--markdown", action="store_true", help="with --kinds: the README table")
    p.set_defaults(fn=cmd_sources)
    p = sub.add_parser("quarantine", help="list quarantined items (newest first)")
    p.add_argument("--source", help="only this source")
    p.add_argument("--reason", help="only items whose reason contains this")
    p.add_argument("--since", type=_date, help="only items quarantined since this date")
    p.add_argument("--all", action="store_true", help="replayed ones too")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_quarantine)
    p = sub.add_parser("replay", help="queue a quarantined item again once its parser is "
                       "fixed, or --refetch to download it again")
    p.add_argument("item", type=int)
    p.add_argument("--refetch", action="store_true",
                   help="download the item again (a page cut off in transit)")
    p.set_defaults(fn=cmd_replay)
    source = sub.add_parser("source", help="act on one source").add_subparsers(
        dest="source_cmd", required=True)
    p = source.add_parser("reset", help="make the next pull re-read from a date or the start")
    p.add_argument("name")
    p.add_argument("--since", type=_date, help="re-read from this date (default: the start)")
    p.set_defaults(fn=cmd_source_reset)
