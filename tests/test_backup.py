"""Restore drill: back up a filled hub with `hub backup`, restore it with `hub restore`
into an empty database, and find every table (the search index's included) and the
var/ files equal; a damaged backup or a non-empty target is refused."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from hub.cli import main
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import validate_item
from hub.models import ContactView, JobLease, User, utcnow
from hub.queue import enqueue, quarantine
from hub.settings import Settings
from tests.conftest import TEST_DB, on_postgres

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'restored' / 'hub.sqlite3'}"
        return
    name = f"hub_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(TEST_DB, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield TEST_DB.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill(hub: Hub) -> None:
    """A small city's week: appeals from two channels with contact details, cases,
    the search index, a deadline check, a ranking with its files, quarantine, staff,
    a contact-view record and a job lease."""
    from classifiers.router import load_router
    from hub import search
    from hub.pipeline import Pipeline
    from hub.ranking.service import rank
    from hub.scheduler import deadline_job
    from tests.webutil import make_staff

    texts = ["A7县星沙街道某小区燃气泄漏，物业不管", "A3区某学校强制学生购买教辅资料",
             "A1区某路口红绿灯坏了三天", "A2区某工地夜间施工噪音扰民"]
    with transaction(hub.sessions) as s:
        for i in range(24):
            enqueue(s, hub.source_ids["hotline-push" if i % 2 else "web"], [validate_item({
                "external_id": f"b-{i}", "title": texts[i % 4][:8],
                "body": f"{texts[i % 4]}（第{i}次）", "contact_name": "王师傅",
                "contact_phone": f"1390000{i:04d}"})])
        quarantine(s, hub.source_ids["web"], "坏数据 13900001111".encode("gbk"), "not JSON")
    Pipeline(hub, load_router(hub)).drain()
    search.index_backlog(hub.sessions)
    deadline_job(hub)
    make_staff(hub)
    period = (utcnow() - timedelta(days=7)).strftime("%G-W%V")
    rank(hub, period, hub.settings.var_dir / "reports")
    with transaction(hub.sessions) as s:
        user = s.query(User).filter_by(username="disp").one()
        case_id = s.execute(text("SELECT min(id) FROM work_order")).scalar()
        s.add(ContactView(user_id=user.id, username="disp", role="dispatcher", case_id=case_id,
                          via="page"))
        s.add(JobLease(name="pull:web", started_at=utcnow(), every_seconds=60, takeovers=2))


def snapshot(url: str) -> dict[str, list[Any]]:
    """Every table's rows, in a stable order, as comparable values."""
    engine = create_engine(url)
    out: dict[str, list[Any]] = {}
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                names = inspect(conn).get_table_names()
                for name in names:
                    out[name] = list(conn.execute(text(
                        f'SELECT CAST(t AS text) AS r FROM "{name}" t ORDER BY r')).scalars())
            else:
                names = [r[0] for r in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"))]
                for name in names:  # the FTS5 index's shadow tables included
                    rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
                    out[name] = sorted((tuple(r) for r in rows), key=repr)
    finally:
        engine.dispose()
    return out


def _env(monkeypatch: pytest.MonkeyPatch, url: str, var: Path, model: Path) -> None:
    for key, value in {"HUB_ENV": "test", "HUB_DATABASE_URL": url, "HUB_VAR_DIR": str(var),
                       "HUB_MODEL_PATH": str(model)}.items():
        monkeypatch.setenv(key, value)


def test_restore_drill_gives_back_every_table_and_file(
        hub: Hub, settings: Settings, empty_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fill(hub)
    hub.close()
    before = snapshot(settings.database_url)
    assert before["appeal"] and before["work_order"] and before["rankingreport"]
    assert before["joblease"] and before["contactview"] and before["quarantineditem"]
    assert ("appeal_search" in before) and (before.get("appeal_search_data") or
                                            before["appeal_search"])
    _env(monkeypatch, settings.database_url, settings.var_dir, settings.model_path)
    folder = tmp_path / "backup"
    assert main(["backup", "--out", str(folder)]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["rows"] > 100 and made["dialect"] == ("postgresql" if on_postgres()
                                                      else "sqlite")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert any(f.startswith("var/reports/ranking-") for f in manifest["files"])
    assert "var/models/router.joblib" in manifest["files"]

    restored_var = tmp_path / "restored-var"
    _env(monkeypatch, empty_url, restored_var, restored_var / "models" / "router.joblib")
    assert main(["restore", str(folder)]) == 0, capsys.readouterr().err
    assert snapshot(empty_url) == before
    for name in manifest["files"]:
        if name.startswith("var/"):
            assert (restored_var / name.removeprefix("var/")).read_bytes() == \
                (folder / name).read_bytes()
    assert (restored_var / "models" / "router.joblib").read_bytes() == \
        settings.model_path.read_bytes()

    # the restored hub runs: it opens, and new appeals get fresh ids
    again = Hub.open(settings.with_overrides(database_url=empty_url, var_dir=restored_var))
    try:
        with transaction(again.sessions) as s:
            [new] = enqueue(s, again.source_ids["web"], [validate_item(
                {"external_id": "after-restore", "body": "A5县某村自来水停水两天"})])
        assert new.created and new.id == 25  # 24 restored appeals before it
    finally:
        again.close()

    # a second restore over the now filled database is refused
    capsys.readouterr()
    assert main(["restore", str(folder)]) == 1
    assert "not empty" in capsys.readouterr().err


def test_a_damaged_or_unfinished_backup_is_refused(
        hub: Hub, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from hub.backup import BackupError, backup, verify

    folder = tmp_path / "backup"
    backup(settings, folder)
    manifest = verify(folder)
    database = folder / manifest["database"]
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="damaged"):
        verify(folder)
    _env(monkeypatch, settings.database_url, settings.var_dir, settings.model_path)
    assert main(["restore", "--verify-only", str(folder)]) == 1
    assert "damaged" in capsys.readouterr().err
    (folder / "manifest.json").unlink()
    with pytest.raises(BackupError, match="interrupted"):
        verify(folder)
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, folder)


def test_nightly_backups_keep_the_newest(settings: Settings, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _env(monkeypatch, settings.database_url, settings.var_dir, settings.model_path)
    parent = tmp_path / "backups"
    (parent / "hub-00000000T000000Z").mkdir(parents=True)  # an interrupted run's leftover
    made = []
    for _ in range(3):
        assert main(["backup", "--dir", str(parent), "--keep", "2"]) == 0
        made.append(json.loads(capsys.readouterr().out)["backup"])
        time.sleep(1.1)  # the folder names are stamped to the second
    assert sorted(p.name for p in parent.iterdir()) == [Path(m).name for m in made[1:]]
