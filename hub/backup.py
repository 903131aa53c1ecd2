"""`hub backup` and `hub restore`: the database and the var/ files that matter.

A backup is a folder: the database (PostgreSQL: ``pg_dump`` custom format, taken in
one exported snapshot; SQLite: the online backup API, consistent while the hub
writes), the router model and the published reports, and ``manifest.json``
written last, with every file's SHA-256, the schema revision and each table's row
count *in the same snapshot as the dump*. A folder without a manifest is an
interrupted backup.

Restoring checks every checksum and the dump's own readability before touching
anything, restores into an **empty** database only (never over a live one), then
compares each table's row count with the manifest. Run ``hub init`` afterwards to
migrate a restored older schema to this code's head.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from hub import __version__
from hub.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP, SQLITE_COPY = "database.pgdump", "database.sqlite3"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says what to do."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def libpq_url(url: str) -> str:
    """postgresql+psycopg://... as the postgresql://... pg_dump and pg_restore read."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(args: list[str], what: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def table_counts(conn: Any, names: list[str]) -> dict[str, int]:
    return {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() or 0)
            for n in sorted(names)}


def _revision(conn: Any) -> str | None:
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _var_files(settings: Settings) -> dict[str, Path]:
    """The router model (wherever HUB_MODEL_PATH puts it) and the published reports."""
    files: dict[str, Path] = {}
    model = settings.resolved_model_path
    if model.exists():
        files[f"var/models/{model.name}"] = model
    reports = settings.var_dir / "reports"
    if reports.is_dir():
        for path in sorted(reports.iterdir()):
            if path.is_file():
                files[f"var/reports/{path.name}"] = path
    return files


def backup(settings: Settings, out: Path) -> dict[str, Any]:
    """Write a backup folder; returns its manifest."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            counts, revision = _dump_postgres(engine, url, out / PG_DUMP)
            database = PG_DUMP
        else:
            counts, revision = _copy_sqlite(url, out / SQLITE_COPY)
            database = SQLITE_COPY
    finally:
        engine.dispose()
    for name, source in _var_files(settings).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    files = {p.relative_to(out).as_posix(): {"sha256": _sha256(p), "bytes": p.stat().st_size}
             for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "hub_version": __version__,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "dialect": engine.dialect.name, "database": database, "revision": revision,
                "tables": counts, "files": files}
    tmp = out / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, out / MANIFEST)  # the manifest appears whole, last
    return manifest


def _dump_postgres(engine: Engine, url: str, target: Path) -> tuple[dict[str, int], str | None]:
    """pg_dump inside a snapshot this connection exported, so the row counts in the
    manifest are those of the dump, however busy the hub is meanwhile."""
    pg_dump = _tool("pg_dump")
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
        names = inspect(conn).get_table_names()
        counts, revision = table_counts(conn, names), _revision(conn)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
              f"--snapshot={snapshot}", f"--file={target}", f"--dbname={libpq_url(url)}"],
             "pg_dump")
        conn.rollback()
    return counts, revision


def _copy_sqlite(url: str, target: Path) -> tuple[dict[str, int], str | None]:
    source = sqlite3.connect(make_url(url).database or "", timeout=60)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one step: a consistent copy while writers wait briefly
    finally:
        source.close()
    try:
        names = [r[0] for r in copy.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        counts = {n: copy.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
                  for n in sorted(names)}
        revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        copy.close()
    return counts, revision[0] if revision else None


def prune(parent: Path, keep: int) -> list[Path]:
    """Keep the newest ``keep`` complete backups in ``parent`` (hub-<UTC time> folders);
    remove older ones and leftovers of interrupted runs. Returns what was removed."""
    folders = sorted(p for p in parent.glob("hub-*") if p.is_dir())
    complete = [p for p in folders if (p / MANIFEST).exists()]
    doomed = complete[:-keep] if keep > 0 else []
    doomed += [p for p in folders if p not in complete and p != folders[-1]]
    for folder in doomed:
        shutil.rmtree(folder)
    return sorted(doomed)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        raise BackupError(f"{folder} holds no {MANIFEST}: not a backup, or an interrupted one")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def verify(folder: Path) -> dict[str, Any]:
    """Every file present with its recorded checksum, and the dump readable."""
    manifest = read_manifest(folder)
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.exists():
            raise BackupError(f"{name} is missing from the backup")
        if path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            raise BackupError(f"{name} is damaged: its checksum differs from the manifest's")
    database = folder / manifest["database"]
    if manifest["dialect"] == "postgresql":
        listing = _run([_tool("pg_restore"), "--list", str(database)], "reading the dump")
        if "TABLE DATA" not in listing:
            raise BackupError("the dump holds no table data")
    else:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if result != "ok":
            raise BackupError(f"the SQLite copy fails its integrity check: {result}")
    return manifest


def _empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(settings: Settings, folder: Path, overwrite_files: bool = False) -> dict[str, Any]:
    """Restore a verified backup into the (empty) configured database and var/."""
    manifest = verify(folder)
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        Path(make_url(url).database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        if engine.dialect.name != manifest["dialect"]:
            raise BackupError(f"the backup is of a {manifest['dialect']} database; "
                              f"HUB_DATABASE_URL is {engine.dialect.name}")
        if not _empty(engine):
            raise BackupError("the target database is not empty: restore into a new, empty "
                              "database (createdb, or a new SQLite file), then point "
                              "HUB_DATABASE_URL at it")
        planned = _plan_files(settings, folder, manifest, overwrite_files)
        engine.dispose()
        if manifest["dialect"] == "postgresql":
            _run([_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner",
                  "--no-privileges", f"--dbname={libpq_url(url)}",
                  str(folder / manifest["database"])], "pg_restore")
        else:
            _restore_sqlite(folder / manifest["database"], make_url(url).database or "")
        with engine.connect() as conn:
            counts = table_counts(conn, list(manifest["tables"]))
            revision = _revision(conn)
    finally:
        engine.dispose()
    wrong = {n: (counts.get(n), c) for n, c in manifest["tables"].items() if counts.get(n) != c}
    if wrong or revision != manifest["revision"]:
        raise BackupError(f"restored database differs from the backup: {wrong or revision}")
    for source, target in planned:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return {"dialect": manifest["dialect"], "revision": revision,
            "created_at": manifest["created_at"], "rows": sum(counts.values()),
            "tables": len(counts), "files": [str(t) for _, t in planned]}


def _plan_files(settings: Settings, folder: Path, manifest: dict[str, Any],
                overwrite: bool) -> list[tuple[Path, Path]]:
    plan = []
    for name in manifest["files"]:
        if not name.startswith("var/"):
            continue
        if name.startswith("var/models/"):
            target = settings.resolved_model_path.parent / Path(name).name
        else:
            target = settings.var_dir / name.removeprefix("var/")
        source = folder / name
        if target.exists() and not overwrite and _sha256(target) != _sha256(source):
            raise BackupError(f"{target} exists and differs from the backup's copy; move it "
                              "away or pass --overwrite-files")
        plan.append((source, target))
    return plan


def _restore_sqlite(copy: Path, target: str) -> None:
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    dest = sqlite3.connect(path)
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode = WAL")
    finally:
        source.close()
        dest.close()
