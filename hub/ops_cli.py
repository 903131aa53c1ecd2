"""Operations commands: `hub jobs`, `hub backup`, `hub restore`, `hub privacy find|erase`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.settings import load_settings


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def cmd_jobs(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.core import Hub
    from hub.jobs import lease_states
    from hub.models import JobRun
    from hub.scheduler import interval_jobs

    hub = Hub.open(load_settings())
    try:
        with hub.sessions() as s:
            leases = [st.as_dict() for st in lease_states(s, only=interval_jobs(hub)).values()]
            runs = [{"job": r.job, "period": r.period, "holder": r.holder,
                     "started_at": r.started_at, "finished_at": r.finished_at,
                     "result": r.result}
                    for r in s.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(10))]
    finally:
        hub.close()
    _print({"interval_jobs": leases, "periodic_runs": runs})
    return 1 if any(job["stuck"] for job in leases) else 0


def cmd_backup(args: argparse.Namespace) -> int:
    from hub.backup import BackupError, backup, prune

    settings = load_settings()
    parent = Path(args.dir) if args.dir else settings.var_dir / "backups"
    out = Path(args.out) if args.out else parent / f"hub-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    try:
        manifest = backup(settings, out)
    except BackupError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    removed = prune(parent, args.keep) if args.keep and not args.out else []
    _print({"backup": str(out), "dialect": manifest["dialect"],
            "revision": manifest["revision"], "rows": sum(manifest["tables"].values()),
            "files": len(manifest["files"]),
            "bytes": sum(f["bytes"] for f in manifest["files"].values()),
            "removed": [str(p) for p in removed]})
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from hub.backup import BackupError, restore, verify

    settings = load_settings()
    try:
        if args.verify_only:
            manifest = verify(Path(args.folder))
            _print({"verified": args.folder, "created_at": manifest["created_at"],
                    "rows": sum(manifest["tables"].values())})
            return 0
        _print(restore(settings, Path(args.folder), overwrite_files=args.overwrite_files))
    except BackupError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_privacy_find(args: argparse.Namespace) -> int:
    from hub.core import Hub
    from hub.erasure import ErasureError, find

    hub = Hub.open(load_settings())
    try:
        with hub.sessions() as s:
            matches = find(s, args.phone, args.name)
    except ErasureError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    _print({"appeals": [m.as_dict() for m in matches]})
    return 0


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    from hub.core import Hub
    from hub.erasure import ErasureError, erase, find

    if not args.phone and not args.appeal:
        print("hub: a name alone also matches other people: list them with `hub privacy find "
              "--name`, then pass the citizen's own with --appeal ID", file=sys.stderr)
        return 2
    hub = Hub.open(load_settings())
    try:
        if args.appeal:
            ids = sorted(set(args.appeal))
        else:
            with hub.sessions() as s:
                ids = [m.appeal_id for m in find(s, args.phone, args.name)]
        if not ids:
            _print({"appeals": 0, "cases": []})
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"hub: {len(ids)} appeals would be erased; add --yes to confirm",
                      file=sys.stderr)
                return 2
            answer = input(f"erase the personal data in {len(ids)} appeals {ids[:10]}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                return 1
        actor = f"{args.by} (cli:{getpass.getuser()})"
        _print(erase(hub, ids, actor, args.reason, phone=args.phone, name=args.name))
    except ErasureError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("jobs", help="scheduled jobs: who runs them, when they last ran, which "
                   "are stuck (exit 1 if any)").set_defaults(fn=cmd_jobs)
    p = sub.add_parser("backup", help="back up the database, router model and reports")
    p.add_argument("--out", help="new folder for this backup")
    p.add_argument("--dir", help="make hub-<UTC time> in this folder (default var/backups)")
    p.add_argument("--keep", type=int, default=0,
                   help="then keep only the newest N backups in --dir (0: keep all)")
    p.set_defaults(fn=cmd_backup)
    p = sub.add_parser("restore", help="restore a backup into an empty database")
    p.add_argument("folder")
    p.add_argument("--verify-only", action="store_true",
                   help="check the checksums and the dump, restore nothing")
    p.add_argument("--overwrite-files", action="store_true",
                   help="replace a model or report file that differs from the backup's")
    p.set_defaults(fn=cmd_restore)
    privacy = sub.add_parser("privacy", help="a citizen's personal data (PIPL)").add_subparsers(
        dest="privacy_cmd", required=True)
    p = privacy.add_parser("find", help="appeals naming a phone number or a person")
    p.add_argument("--phone")
    p.add_argument("--name")
    p.set_defaults(fn=cmd_privacy_find)
    p = privacy.add_parser("erase", help="anonymise a citizen's appeals everywhere")
    p.add_argument("--phone", help="erase every appeal naming this phone number")
    p.add_argument("--name", help="also erase this name wherever it appears in them")
    p.add_argument("--appeal", type=int, action="append", help="an appeal id (repeatable)")
    p.add_argument("--by", required=True, help="who carries out the request")
    p.add_argument("--reason", required=True,
                   help="why (e.g. the request's reference); never the citizen's data")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(fn=cmd_privacy_erase)
