"""Engine, sessions and the few places where SQLite and PostgreSQL differ.

All database work is synchronous SQLAlchemy, run in worker threads by the async
parts of the hub, so the event loop never blocks on I/O.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, pool_size: int = 8, timeout: float = 30) -> Engine:
    """Create an engine; SQLite files get WAL mode and a busy timeout.

    ``timeout`` bounds every wait for the database: SQLite's lock, PostgreSQL's
    connection and a free connection in the pool. Past it the caller gets an error
    (answered 503 with Retry-After, hub/outage.py) instead of hanging."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": timeout},
                               poolclass=NullPool if path == ":memory:" else None)
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas,
                                                          busy_ms=int(timeout * 1000)))
        event.listen(engine, "begin", _sqlite_begin_immediate)
        if path and path != ":memory:":
            _GATES[engine] = WriteGate(Path(f"{path}.write-lock"))
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         pool_timeout=timeout,
                         connect_args={"connect_timeout": max(1, int(timeout)),
                                       # a lock held past the timeout fails the statement
                                       # (55P03) like SQLite's busy timeout, instead of
                                       # queueing every request behind it
                                       "options": f"-c lock_timeout={int(timeout * 1000)}"})


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_ms: int = 30000) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (kill -9); only power loss can
    # lose the last transactions. Set HUB_SQLITE_SYNC=FULL-equivalent in deploy if needed.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # A write transaction (see ``transaction``) takes the write lock at BEGIN, so
    # two writers queue on busy_timeout instead of failing when one upgrades.
    # Reads begin deferred: in WAL mode they never wait for a writer or each other.
    if conn.get_execution_options().get("sqlite_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


class WriteGate:
    """Writers to one SQLite file queue on an ``flock`` before BEGIN IMMEDIATE.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so a writer that
    waited often sleeps long after the lock came free; two pipeline processes lost a
    third of their throughput that way. The kernel wakes an ``flock`` waiter at once.
    The lock only orders writers; SQLite's locking still guarantees correctness.

    Writers a client is waiting on (the intake's group commit) go first: while one
    waits it holds a shared lock on a second file, and a background writer (pipeline,
    indexing, topics, jobs) that got the gate then gives it back and waits for that
    file to be free. So a citizen's POST waits for at most the one background
    transaction already running, never for a queue of them; in a soak at 100/s with
    a hot event, background writers took the gate 7,000 times in 4 minutes and each
    could cost the intake tens to hundreds of milliseconds. A background writer
    yields at most ``MAX_YIELDS`` times, then waits in line like a client: a steady
    stream of clients cannot starve the pipeline.
    """

    MAX_YIELDS = 20

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clients_path = path.with_name(path.name + ".clients")
        self._local = threading.local()

    @contextmanager
    def hold(self, client: bool = False) -> Iterator[None]:
        if getattr(self._local, "held", False):  # already ours in this thread
            yield
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        clients = os.open(self.clients_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if client:
                self._acquire_as_client(fd, clients)
            else:
                self._acquire_in_background(fd, clients)
            self._local.held = True
            try:
                yield
            finally:
                self._local.held = False
        finally:
            os.close(clients)
            os.close(fd)  # closing releases the lock

    def _acquire_as_client(self, fd: int, clients: int) -> None:
        fcntl.flock(clients, fcntl.LOCK_SH)  # "a client is waiting": blocks nobody's gate
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL
        finally:
            fcntl.flock(clients, fcntl.LOCK_UN)

    def _acquire_in_background(self, fd: int, clients: int) -> None:
        for _ in range(self.MAX_YIELDS):
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                fcntl.flock(clients, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a client waits: let it in first
                fcntl.flock(fd, fcntl.LOCK_UN)
                fcntl.flock(clients, fcntl.LOCK_EX)  # until no client waits
            else:
                fcntl.flock(clients, fcntl.LOCK_UN)
                return
            fcntl.flock(clients, fcntl.LOCK_UN)
        self._acquire_as_client(fd, clients)


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: Engine) -> AbstractContextManager[None]:
    """Hold an SQLite file's writers' lock (re-entrant in this thread); a no-op on
    PostgreSQL."""
    gate = _GATES.get(engine)
    return gate.hold() if gate is not None else nullcontext()


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else \
        engine_or_session
    return bind.dialect.name == "postgresql"


def insert_ignoring_conflicts(session: Session, table: Any, rows: list[dict[str, Any]],
                              conflict_cols: list[str], returning: list[Any]) -> list[Any]:
    """INSERT ... ON CONFLICT (cols) DO NOTHING RETURNING ...; same SQL on both databases.

    Rows go as executemany, which SQLAlchemy batches into multi-row statements
    ("insertmanyvalues") without compiling a new statement per batch size.
    Only inserted rows come back.
    """
    if not rows:
        return []
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(
        index_elements=conflict_cols).returning(*returning)
    if len(rows) == 1:
        return list(session.execute(stmt.values(rows[0])).all())
    return list(session.execute(stmt, rows).all())


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], client: bool = False) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error.

    On SQLite it is a write transaction from its first statement (BEGIN IMMEDIATE),
    entered through the file's write gate; ``client`` when someone waits on the
    answer (the intake), so it goes before background writers (see ``WriteGate``).
    """
    gate = _GATES.get(factory.kw.get("bind"))  # type: ignore[arg-type]
    with gate.hold(client) if gate else nullcontext(), factory() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            conn = session.connection(execution_options={"sqlite_write": True})
            # the commit that takes the WAL past 1,000 pages checkpoints it (copies
            # and syncs pages: tens to hundreds of milliseconds); a client's commit
            # leaves that to the next background writer's
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={0 if client else 1000}")
        yield session


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic filter: the search index (and FTS5's shadow tables) is dialect-specific
    DDL in migration 0007, not a SQLModel table; autogenerate must not drop it."""
    return not (type_ == "table" and name is not None and name.startswith("appeal_search"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision this code knows.

    A database already at a revision this code does not know was migrated by a newer
    release: during a rolling upgrade or after a rollback the older code runs on it
    (migrations only add, see deploy/README.md), so it is left as it is."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    known = {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}
    with engine.begin() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        if current - known:
            logging.getLogger(__name__).warning(
                "the database is at revision %s, newer than this code knows: not migrating "
                "(a rolling upgrade or a rollback; see deploy/README.md)",
                ", ".join(sorted(current - known)))
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
