"""Fixtures: a real database (SQLite file or PostgreSQL, by HUB_TEST_DATABASE) per test.

HUB_TEST_DATABASE=sqlite (default) gives each test a fresh migrated SQLite file;
a postgresql+psycopg:// URL gives the session its own database, truncated between
tests. The same tests run on both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hub.core import Hub
from hub.settings import REPO_ROOT, Settings

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DB = os.environ.get("HUB_TEST_DATABASE", "sqlite")


def on_postgres() -> bool:
    return TEST_DB.startswith("postgresql")


@pytest.fixture(scope="session")
def seed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from classifiers.router import train_seed_model

    path = tmp_path_factory.mktemp("model") / "router.joblib"
    train_seed_model(path)
    return path


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory, seed_model: Path) -> Iterator[str]:
    """A migrated database to copy (SQLite) or truncate (PostgreSQL) for each test."""
    if on_postgres():
        name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(TEST_DB, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = TEST_DB.rsplit("/", 1)[0] + f"/{name}"
        hub = Hub.open(make_settings(url, tmp_path_factory.mktemp("var"), seed_model))
        hub.close()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        folder = tmp_path_factory.mktemp("template")
        url = f"sqlite:///{folder / 'hub.sqlite3'}"
        Hub.open(make_settings(url, folder, seed_model)).close()
        yield str(folder / "hub.sqlite3")


def make_settings(url: str, var_dir: Path, model: Path) -> Settings:
    return Settings(env="test", database_url=url, var_dir=var_dir, model_path=model,
                    scheduler_enabled=False, pipeline_enabled=False)


@pytest.fixture
def settings(db_template: str, tmp_path: Path, seed_model: Path) -> Settings:
    if on_postgres():
        engine = create_engine(db_template)
        with engine.begin() as conn:
            tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                "AND tablename <> 'alembic_version'"))]
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        engine.dispose()
        return make_settings(db_template, tmp_path, seed_model)
    target = tmp_path / "hub.sqlite3"
    shutil.copy(db_template, target)
    return make_settings(f"sqlite:///{target}", tmp_path, seed_model)


@pytest.fixture
def hub(settings: Settings) -> Iterator[Hub]:
    h = Hub.open(settings)
    yield h
    h.close()


@pytest.fixture
async def client(settings: Settings, aiohttp_client):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    return await aiohttp_client(create_app(settings))


HOTLINE_KEY = {"X-Api-Key": "dev-hotline-push-key"}
# a test that asks for one of these (or is marked ``database``) touches the database;
# ``empty_url`` (migrations, backups) and ``fresh`` (the README's commands) make their own
DATABASE_FIXTURES = frozenset({"settings", "hub", "client", "db_template", "empty_url",
                               "fresh"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every database test runs on both databases; a test that never touches one has
    already run in the SQLite pass, so the PostgreSQL pass skips it (CI time)."""
    if not on_postgres():
        return
    once = pytest.mark.skip(reason="database-independent: runs in the SQLite pass")
    for item in items:
        if item.get_closest_marker("database") is None and \
                not DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(once)
