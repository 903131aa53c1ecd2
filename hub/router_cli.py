"""``hub router stats``: the router's dispatch quality from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_router_stats(args: argparse.Namespace) -> int:
    from hub.core import Hub
    from hub.dispatch_quality import router_report
    from hub.models import utcnow
    from hub.settings import load_settings

    hub = Hub.open(load_settings())
    try:
        report = router_report(hub, utcnow(), weeks=args.weeks)
    finally:
        hub.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return 0
    print(_table(report))
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(report: dict[str, Any]) -> str:
    model = report["model"]
    promise = model.get("promise") or {}
    lines = [f"model {model.get('version') or '-'}  threshold {model.get('threshold')}"]
    if promise:
        lo, hi = promise.get("auto_routed_accuracy_interval") or [None, None]
        clo, chi = promise.get("coverage_interval") or [None, None]
        lines.append(f"promised: auto-routed accuracy {_pct(promise.get('auto_routed_accuracy'))}"
                     f" ({_pct(lo)}-{_pct(hi)}), coverage {_pct(promise.get('coverage'))}"
                     f" ({_pct(clo)}-{_pct(chi)})")
    lines.append(f"{'week':<9} {'decided':>7} {'auto':>6} {'first-right':>11} {'returned':>8} "
                 f"{'moves':>5} {'drift':>6}  model")
    for w in report["weeks"]:
        lines.append(f"{w['week']:<9} {w['decided']:>7} {_pct(w['auto_routed_share']):>6} "
                     f"{_pct(w['first_dispatch_accuracy']):>11} {_pct(w['return_rate']):>8} "
                     f"{w['reassignments']:>5} {w['drift']['distance'] or 0:>6.3f}  {w['model']}")
    return "\n".join(lines)


def _weeks(value: str) -> int:
    weeks = int(value)
    if not 1 <= weeks <= 104:
        raise argparse.ArgumentTypeError("weeks must be 1 to 104")
    return weeks


def register(sub: Any) -> None:
    router = sub.add_parser("router", help="the router's dispatch quality").add_subparsers(
        dest="router_cmd", required=True)
    p = router.add_parser("stats", help="首派准确率, auto-routed share, returns, reassignments, "
                          "corrected categories and drift per model and week")
    p.add_argument("--weeks", type=_weeks, default=8, help="how many weeks back (default 8)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_router_stats)
