"""The Hub: settings, config, database and the thread pools for blocking work.

Built once per process (by the app factory or a CLI command) and closed with it.
Two pools, so one kind of work cannot starve the other: ``pool`` for SQL, jieba and
sklearn; ``passwords`` (hub/security/passwords.py) for argon2, small and bounded,
so a burst of logins never holds a database thread or slows intake.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from connectors.registry import check_sources
from hub import search
from hub.bootstrap import sync_config
from hub.config import CityConfig, load_config
from hub.db import is_postgres, make_engine, migrate, session_factory, transaction, write_gate
from hub.jobs import LeaseKeeper
from hub.models import Source, Unit
from hub.security.passwords import PasswordVerifier
from hub.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATION_LOCK = 7_230_001  # PostgreSQL advisory lock id: one migrator at a time


@dataclass
class Hub:
    settings: Settings
    config: CityConfig
    engine: Engine
    sessions: sessionmaker[Session]
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="hub-db"))
    passwords: PasswordVerifier = field(default_factory=PasswordVerifier)
    source_ids: dict[str, int] = field(default_factory=dict)
    unit_ids: dict[str, int] = field(default_factory=dict)
    leases: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        # renews the job leases this process holds while their jobs run (hub/jobs.py)
        self.leases = LeaseKeeper(self.sessions, self.settings.instance_name,
                                  self.settings.lease_seconds)

    @classmethod
    def open(cls, settings: Settings, *, prepare: bool = True) -> Hub:
        """Load config (failing fast on errors, connector options included), connect,
        migrate and sync config."""
        config = load_config(settings.config_dir)
        check_sources(config)
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url,
                             timeout=settings.db_timeout_seconds)
        hub = cls(settings=settings, config=config, engine=engine,
                  sessions=session_factory(engine))
        if prepare:
            hub.prepare()
        hub.refresh_ids()
        return hub

    def prepare(self) -> None:
        """Migrate and load units/sources; safe to run from several processes at once."""
        if is_postgres(self.engine):
            with self.engine.connect() as conn:
                # processes starting together wait for the one migrating, however long
                conn.execute(text("SET lock_timeout = 0"))
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
                try:
                    migrate(self.engine)
                    with transaction(self.sessions) as s:
                        sync_config(s, self.config)
                        search.backfill_if_empty(s)
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                    conn.execute(text("RESET lock_timeout"))
                    conn.commit()
        else:
            # processes starting together on one file: the first migrates while the
            # others wait on its writers' lock (a deferred migration transaction that
            # meets another writer fails at once with "database is locked")
            with write_gate(self.engine):
                migrate(self.engine)
                with transaction(self.sessions) as s:
                    sync_config(s, self.config)
                    search.backfill_if_empty(s)

    def refresh_ids(self) -> None:
        with self.sessions() as s:
            self.source_ids = {n: i for n, i in s.execute(select(Source.name, Source.id))}
            self.unit_ids = {c: i for c, i in s.execute(select(Unit.code, Unit.id))}

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (database, sklearn) in the pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.pool.shutdown(wait=True)  # running jobs finish, their leases still renewed
        self.leases.stop()  # then what is still held is released for the others
        self.passwords.close()
        self.engine.dispose()
