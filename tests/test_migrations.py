"""Upgrading a database that already holds a city's data, as a real upgrade does.

A migration that passes on an empty database can still fail on a full one (SQLite's
batch mode copies and drops a table, which foreign keys forbid once rows point at
it), so the schema is taken to the last release, filled, then upgraded to head.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from hub import search
from hub.db import MIGRATIONS_DIR, make_engine, session_factory, transaction
from tests.conftest import TEST_DB, on_postgres

LAST_RELEASE = "0005"  # the schema the previous release shipped


@pytest.fixture
def empty_url() -> Iterator[str]:
    if not on_postgres():
        yield f"sqlite:///{tempfile.mkdtemp()}/upgrade.sqlite3"
        return
    name = f"hub_upgrade_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(TEST_DB, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield TEST_DB.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade(engine, revision: str) -> None:  # type: ignore[no-untyped-def]
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_a_full_database_upgrades_to_head(empty_url: str) -> None:
    engine = make_engine(empty_url)
    _upgrade(engine, LAST_RELEASE)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO unit (id, code, name, kind, discipline, active) "
                          "VALUES (1, 'zhujian', '住建局', 'department', false, true)"))
        conn.execute(text(
            "INSERT INTO \"user\" (username, display_name, password_hash, role, unit_id, active,"
            " created_at) VALUES ('zj', 'zj', 'x', 'unit', 1, true, '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO source (id, name, kind, title, enabled, "
                          "consecutive_failures) VALUES (1, 'web', 'push', '网站', true, 0)"))
        conn.execute(text(
            "INSERT INTO appeal (source_id, external_id, received_at, created_at, title, body,"
            " votes, state, attempts) VALUES (1, 'old-1', '2026-01-01 00:00:00+00',"
            " '2026-01-01 00:00:00+00', '路灯不亮', '小区门口路灯坏了一个月', 0, 'done', 0)"))
        # a case reopened before the upgrade: its latest handling gets the case's
        # deadline, the round before it (no deadline was ever recorded) none
        conn.execute(text(
            "INSERT INTO work_order (id, number, appeal_id, state, unit_id, urgent,"
            " hide_identity, difficulty, deadline_at, due_state, urge_count, escalated,"
            " query_code, reopen_count, return_count, extension_requested, created_at,"
            " updated_at, version) SELECT 1, '20260101000001', id, 'signed', 1, false, false,"
            " 'normal', '2026-01-09 15:59:59+00', 'ok', 0, false, 'ABCDEF', 1, 0, false,"
            " '2026-01-01 00:00:00+00', '2026-01-06 00:00:00+00', 5 FROM appeal"))
        for number, (action, day) in enumerate((("assign", 1), ("reply", 2), ("reopen", 5),
                                                ("sign", 6)), 1):
            conn.execute(text(
                "INSERT INTO caseevent (id, case_id, at, actor, action, unit_id) VALUES"
                f" ({number}, 1, '2026-01-0{day} 00:00:00+00', 'x', '{action}', 1)"))
    _upgrade(engine, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code, auto_assign_paused FROM unit")).all() == [
            ("zhujian", False)]
        deadlines = conn.execute(text(
            "SELECT action, deadline_at IS NOT NULL FROM caseevent ORDER BY id")).all()
        assert deadlines == [("assign", False), ("reply", False), ("reopen", True),
                             ("sign", True)]
        assert conn.execute(text("SELECT count(*) FROM searchbacklog")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM throttle")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM sourceevent")).scalar() == 0
        assert conn.execute(text("SELECT name, last_warning FROM source")).all() == [
            ("web", None)]
    # the appeals stored before the search index are queued for it once, at start
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        assert search.backfill_if_empty(s) == 1
    with transaction(sessions) as s:
        assert search.backfill_if_empty(s) == 0  # the backlog holds them already
    assert search.index_backlog(sessions) == 1
    with transaction(sessions) as s:
        assert search.backfill_if_empty(s) == 0  # the index holds them now
    engine.dispose()


def test_recorded_duplicates_become_clusters_on_upgrade(empty_url: str) -> None:
    """Duplicate chains recorded before clusters existed (appeal.duplicate_of_id) become
    one cluster each, led by the first appeal; only its band keys are kept."""
    engine = make_engine(empty_url)
    _upgrade(engine, LAST_RELEASE)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO source (id, name, kind, title, enabled, "
                          "consecutive_failures) VALUES (1, 'web', 'push', '网站', true, 0)"))
        for i, dup in ((1, None), (2, 1), (3, 2), (4, None)):
            conn.execute(text(
                "INSERT INTO appeal (id, source_id, external_id, received_at, created_at, title,"
                " body, votes, state, attempts, duplicate_of_id) VALUES (:i, 1, :e, :at, :at,"
                " '停水', '桂花路停水三天了', 0, 'done', 0, :d)"),
                {"i": i, "e": f"old-{i}", "d": dup, "at": f"2026-01-0{i} 08:00:00+00"})
            conn.execute(text("INSERT INTO appealband (key, appeal_id, received_at) "
                              "VALUES (:k, :i, :at)"),
                         {"k": 1000 + i, "i": i, "at": f"2026-01-0{i} 08:00:00+00"})
        conn.execute(text(
            "INSERT INTO work_order (number, appeal_id, state, urgent, hide_identity, difficulty,"
            " due_state, urge_count, escalated, query_code, reopen_count, return_count,"
            " extension_requested, created_at, updated_at, version) VALUES ('20260101000001', 1,"
            " 'triage', false, false, 'normal', 'ok', 0, false, 'ABCDEF', 0, 0, false,"
            " '2026-01-01 08:00:00+00', '2026-01-01 08:00:00+00', 1)"))
    _upgrade(engine, "head")
    with engine.connect() as conn:
        [(cid, original, size, case_id)] = conn.execute(text(
            "SELECT id, original_appeal_id, size, case_id FROM appeal_cluster")).all()
        assert (original, size) == (1, 3) and case_id is not None
        members = dict(conn.execute(text("SELECT id, cluster_id FROM appeal")).all())
        assert members == {1: cid, 2: cid, 3: cid, 4: None}
        assert sorted(r[0] for r in conn.execute(text("SELECT appeal_id FROM appealband"))) \
            == [1, 4]
    engine.dispose()


def _normal(sql: str) -> str:
    """A partial index predicate as either database prints it, compared loosely:
    PostgreSQL adds casts and parentheses, SQLite keeps the text as written."""
    import re

    sql = re.sub(r"::[a-z ]+(\[\])?", "", sql.lower())
    sql = re.sub(r"[\s()]", "", sql)
    return sql.replace("=anyarray[", "in").replace("]", "")


def test_the_models_and_the_migrated_database_agree(empty_url: str) -> None:
    """Alembic's autogenerate comparison of hub.models with a database migrated to
    head finds nothing to change (tables, columns, types, nullability, indexes,
    unique constraints, foreign keys), and every partial index has the predicate
    the models give it (OPEN_WORK and friends are typed once, in lifecycle/states)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import hub.models  # noqa: F401 - the tables register on SQLModel.metadata

    engine = make_engine(empty_url)
    _upgrade(engine, "head")
    search_tables = {"appeal_search", "appeal_search_data", "appeal_search_idx",
                     "appeal_search_content", "appeal_search_docsize", "appeal_search_config"}

    def ours(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
        return not (type_ == "table" and (name in search_tables or name == "alembic_version"))

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": ours})
        diff = compare_metadata(context, SQLModel.metadata)
        assert diff == [], "models and migrations disagree: " + "; ".join(map(str, diff))
        if on_postgres():
            found = dict(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")).all())
        else:
            found = dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
                .all())
    engine.dispose()
    dialect = "postgresql" if on_postgres() else "sqlite"
    checked = 0
    for table in SQLModel.metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options[dialect].get("where")
            if where is None:
                continue
            stored = found.get(index.name or "")
            assert stored, f"index {index.name} is missing from the migrated database"
            predicate = stored[stored.lower().rindex(" where ") + 7:]
            assert _normal(predicate) == _normal(str(where)), (index.name, predicate, where)
            checked += 1
    assert checked >= 6
