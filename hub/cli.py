"""The ``hub`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from classifiers.errors import DataError
from hub.config import ConfigError
from hub.settings import SettingsError, load_settings

log = logging.getLogger("hub")


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def cmd_init(args: argparse.Namespace) -> int:
    from hub.core import Hub

    hub = Hub.open(load_settings())
    try:
        _print({"database": hub.engine.url.render_as_string(hide_password=True),
                "units": len(hub.unit_ids), "sources": sorted(hub.source_ids)})
    finally:
        hub.close()
    return 0


def use_uvloop() -> None:
    """uvloop's event loop when installed: the same asyncio API, less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return
    import asyncio

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from hub.app import create_app

    settings = load_settings()
    overrides: dict[str, Any] = {}
    if args.port:
        overrides["port"] = args.port
    if args.host:
        overrides["host"] = args.host
    settings = settings.with_overrides(**overrides).check()  # e.g. --host 0.0.0.0
    use_uvloop()
    from hub.logs import AccessLogger, startup_line

    log.info("%s", startup_line(settings))
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                access_log_class=AccessLogger,
                access_log=logging.getLogger("hub.access") if settings.access_log else None,
                print=lambda msg: log.info("%s", msg.splitlines()[0].strip("= ")))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from hub.core import Hub
    from hub.importer import Mapping, import_csv

    hub = Hub.open(load_settings())
    try:
        mapping = Mapping(external_id=args.id_column, title=args.title_column,
                          body=args.body_column, received_at=args.time_column,
                          votes=args.votes_column)
        _print(import_csv(hub, Path(args.file), args.source, mapping))
    finally:
        hub.close()
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from classifiers.router import load_router
    from hub.core import Hub
    from hub.pipeline import Pipeline

    hub = Hub.open(load_settings())
    try:
        from hub import search, topics

        opened = Pipeline(hub, load_router(hub)).drain()
        _print({"cases_opened": opened, "appeals_indexed": search.index_backlog(hub.sessions),
                "topics_assigned": topics.assign_backlog(hub.sessions).appeals})
    finally:
        hub.close()
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from hub import search
    from hub.core import Hub

    hub = Hub.open(load_settings())
    try:
        _print({"appeals_indexed": search.rebuild(hub.sessions)})
    finally:
        hub.close()
    return 0


def _columns(args: argparse.Namespace) -> Any:
    from classifiers.train import Columns

    return Columns(title=args.title_column, body=args.body_column, label=args.label_column)


def cmd_train(args: argparse.Namespace) -> int:
    from classifiers.train import Extras, build_training_set, labelled, train

    settings = load_settings()
    cols = _columns(args)
    path = Path(args.file)
    texts, labels = labelled(path, cols)
    extras = Extras() if args.no_extras else Extras.beside(path)
    if args.taxonomy:
        extras.taxonomy = Path(args.taxonomy)
    extras.replies += [Path(p) for p in args.replies or []]
    extras.unlabelled += [Path(p) for p in args.unlabelled or []]
    data = build_training_set(texts, labels, extras, cols)
    model, report = train(data, target_accuracy=args.target_accuracy, jobs=args.jobs)
    # what the learning loop retrains from (classifiers/retrain.py)
    model.meta["source"] = {"file": str(path.resolve()), "extras": not args.no_extras,
                            "columns": {"title": cols.title, "body": cols.body,
                                        "label": cols.label, "reply": cols.reply}}
    out = Path(args.out) if args.out else settings.resolved_model_path
    model.save(out)
    _print({"model": str(out), "data_hash": model.meta["data_hash"],
            "labelled": len(texts), "weak_labelled": len(data.weak_texts),
            "unlabelled": len(data.unlabelled),
            "taxonomy": str(extras.taxonomy) if extras.taxonomy else "seed",
            "cv": {k: report[k] for k in ("n", "accuracy", "macro_f1", "threshold",
                                          "auto_routed_share", "auto_routed_accuracy")},
            "promise": report["promise"]})
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from classifiers.model import CategoryClassifier
    from classifiers.train import evaluate, labelled

    settings = load_settings()
    path = Path(args.model) if args.model else settings.resolved_model_path
    if not path.exists():
        print(f"no model at {path}; run `hub train FILE.csv` first", file=sys.stderr)
        return 2
    model = CategoryClassifier.load(path)
    texts, labels = labelled(Path(args.file), _columns(args))
    report = evaluate(model, texts, labels)
    if args.json:
        _print(report)
    else:
        seen, promised = report["observed"], report.get("expected") or {}
        print(f"n={report['n']} accuracy={report['accuracy']} macro_f1={report['macro_f1']}")
        print(f"at threshold {seen['threshold']}: auto-routed {seen['coverage']} "
              f"(95% {seen['coverage_interval']}) at accuracy {seen['auto_routed_accuracy']} "
              f"(95% {seen['auto_routed_accuracy_interval']})")
        if promised:
            print(f"promised: auto-routed {promised.get('coverage')} "
                  f"({promised.get('coverage_interval')}) at accuracy "
                  f"{promised.get('auto_routed_accuracy')} "
                  f"({promised.get('auto_routed_accuracy_interval')})")
        for cls, m in report["per_class"].items():
            print(f"  {cls:<10} f1={m['f1']:.3f} p={m['precision']:.3f} r={m['recall']:.3f} "
                  f"n={m['support']}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from classifiers.router import load_router
    from hub.core import Hub

    hub = Hub.open(load_settings())
    try:
        router = load_router(hub)
        d = router.route(args.text)
        _print({"category": d.category, "unit": d.unit_code,
                "unit_name": _unit_name(hub, d.unit_code), "county": d.county_code,
                "confidence": round(d.confidence, 4), "needs_triage": d.needs_triage,
                "urgent": d.urgent, "urgent_terms": list(d.urgent_terms),
                "rule": d.rule, "suggestions": d.suggestions})
    finally:
        hub.close()
    return 0


def _unit_name(hub: Any, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return hub.config.unit(code).name
    except KeyError:
        return None


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(host=args.host, port=args.port, rate=args.rate)


def cmd_user_add(args: argparse.Namespace) -> int:
    import getpass
    import os

    from hub.core import Hub
    from hub.db import transaction
    from hub.web.auth import AuthError, add_user

    password = args.password or os.environ.get("HUB_USER_PASSWORD") or \
        getpass.getpass(f"password for {args.username}: ")
    hub = Hub.open(load_settings())
    try:
        with transaction(hub.sessions) as s:
            user = add_user(s, args.username, password, args.role, args.name, args.unit,
                            head=args.head)
            _print({"id": user.id, "username": user.username, "role": user.role,
                    "unit": args.unit})
    except AuthError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from classifiers.retrain import retrain
    from hub.core import Hub

    hub = Hub.open(load_settings())
    try:
        _print(retrain(hub))
    finally:
        hub.close()
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from hub.core import Hub
    from hub.ranking.period import PeriodError
    from hub.ranking.service import rank

    hub = Hub.open(load_settings())
    try:
        payload = rank(hub, args.period, Path(args.out) if args.out else None,
                       recompute=args.recompute)
    except PeriodError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    _print({"period": payload["period"], "title": payload.get("title"),
            "from": payload["from"], "to": payload["to"],
            "best": payload["best"], "worst": payload["worst"], "too_few": payload["too_few"],
            "no_cases": payload.get("no_cases", []),
            "hot_issues": len(payload["hot_issues"]), "out": args.out})
    return 0


def cmd_misconduct(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.core import Hub
    from hub.db import transaction
    from hub.models import Case, MisconductFinding, utcnow

    hub = Hub.open(load_settings())
    try:
        if args.unit not in hub.unit_ids:
            print(f"hub: no unit {args.unit!r}", file=sys.stderr)
            return 2
        with transaction(hub.sessions) as s:
            case_id = s.scalar(select(Case.id).where(Case.number == args.case)) \
                if args.case else None
            if args.case and case_id is None:
                print(f"hub: no case {args.case!r}", file=sys.stderr)
                return 2
            s.add(MisconductFinding(unit_id=hub.unit_ids[args.unit], case_id=case_id,
                                    verified_at=utcnow(), verified_by=args.by, note=args.note))
        _print({"unit": args.unit, "case": args.case, "verified_by": args.by})
    finally:
        hub.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="群众诉求 intake and dispatch hub")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or migrate the database and load config").set_defaults(
        fn=cmd_init)
    p = sub.add_parser("serve", help="API, web pages, pipeline and scheduler in one process")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("import", help="bulk-load a CSV of past appeals into the queue")
    p.add_argument("file")
    p.add_argument("--source", required=True)
    p.add_argument("--id-column", default="留言编号")
    p.add_argument("--title-column", default="留言主题")
    p.add_argument("--body-column", default="留言详情")
    p.add_argument("--time-column", default="留言时间")
    p.add_argument("--votes-column", default="点赞数")
    p.set_defaults(fn=cmd_import)

    sub.add_parser("process", help="turn every queued appeal into a case now").set_defaults(
        fn=cmd_process)
    sub.add_parser("reindex", help="rebuild the search index of every appeal (after an "
                   "upgrade that added it)").set_defaults(fn=cmd_reindex)

    def text_columns(p: argparse.ArgumentParser) -> None:
        p.add_argument("--title-column", default="留言主题")
        p.add_argument("--body-column", default="留言详情")
        p.add_argument("--label-column", default="一级分类")

    p = sub.add_parser("train", help="train the router from a labelled CSV")
    p.add_argument("file")
    text_columns(p)
    p.add_argument("--taxonomy", help="category tree CSV (default: taxonomy.csv beside FILE)")
    p.add_argument("--replies", action="append",
                   help="CSV of messages with replies, for weak labels (repeatable)")
    p.add_argument("--unlabelled", action="append", help="CSV of unlabelled messages")
    p.add_argument("--no-extras", action="store_true",
                   help="do not pick up taxonomy/messages CSVs beside FILE")
    p.add_argument("--target-accuracy", type=float, default=0.9,
                   help="auto-route only where cross-validation was this accurate")
    p.add_argument("--out", help="model file (default: var/models/router.joblib)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="processes for the cross-validation fits (default: one per core)")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("evaluate", help="score the trained router on a labelled CSV")
    p.add_argument("file")
    text_columns(p)
    p.add_argument("--model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser("classify", help="route one text and explain the decision")
    p.add_argument("text")
    p.set_defaults(fn=cmd_classify)

    p = sub.add_parser("demo", help="a demo hub on SQLite with simulated channels")
    p.add_argument("--host", help="else HUB_HOST (127.0.0.1)")
    p.add_argument("--port", type=int, help="else HUB_PORT (8080)")
    p.add_argument("--rate", type=float, default=0.5, help="simulated appeals per second")
    p.set_defaults(fn=cmd_demo)

    users = sub.add_parser("user", help="staff accounts").add_subparsers(dest="user_cmd",
                                                                         required=True)
    p = users.add_parser("add", help="create a staff account")
    p.add_argument("username")
    p.add_argument("--role", required=True,
                   choices=["operator", "dispatcher", "unit", "supervisor", "admin"])
    p.add_argument("--unit", help="unit code (required for unit staff)")
    p.add_argument("--name", help="display name")
    p.add_argument("--head", action="store_true",
                   help="unit staff: the unit's head (单位负责人), who hears staged warnings")
    p.add_argument("--password", help="else HUB_USER_PASSWORD, else asked for")
    p.set_defaults(fn=cmd_user_add)

    sub.add_parser("retrain", help="retrain the router with dispatchers' corrections; keep it "
                   "only if it scores at least as well on held-back corrections").set_defaults(
        fn=cmd_retrain)
    p = sub.add_parser("rank", help="rank units for a period and write the reports")
    p.add_argument("--period", required=True, help="2026-W47, 2026-11, 2026-Q4 or 2026")
    p.add_argument("--out", help="folder for HTML, CSV, XLSX and JSON")
    p.add_argument("--recompute", action="store_true",
                   help="recompute even if the period's report is stored")
    p.set_defaults(fn=cmd_rank)
    p = sub.add_parser("misconduct", help="record a verified misconduct finding against a unit")
    p.add_argument("--unit", required=True)
    p.add_argument("--case", help="the case number it came from")
    p.add_argument("--by", required=True, help="who verified it (纪委监委)")
    p.add_argument("--note")
    p.set_defaults(fn=cmd_misconduct)

    from connectors.cli import register as register_pull
    from hub.ops_cli import register as register_ops
    from hub.router_cli import register as register_router

    register_pull(sub)
    register_ops(sub)
    register_router(sub)
    return parser


SERVICE_COMMANDS = ("serve", "demo")  # long-running: the hub's own progress lines matter


def configure_logging(verbose: bool, command: str) -> None:
    """Quiet commands, masked lines, JSON in production (hub/logs.py)."""
    from hub.logs import configure

    try:
        log_format = load_settings().log_format
    except SettingsError:
        log_format = "text"  # the command reports the bad setting itself
    configure(verbose, command in SERVICE_COMMANDS, log_format)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in argv)  # accepted after the command too
    argv = [a for a in argv if a not in ("-v", "--verbose")]
    args = build_parser().parse_args(argv)
    args.verbose = verbose
    configure_logging(verbose, args.command)
    try:
        return int(args.fn(args) or 0)
    except (ConfigError, SettingsError) as exc:
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
