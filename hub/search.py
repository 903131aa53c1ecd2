"""Full-text search in Chinese: an inverted index of character bigrams.

Chinese has no spaces, so a dispatcher's search word is a substring, not a token.
Each appeal's title and body are indexed as the set of their character bigrams
(the approach of Elasticsearch's CJK analyzer and MySQL's ngram parser). A search
term of two or more characters becomes its bigrams, which must all be present (the
index answers that), and LIKE then confirms the term itself on those few candidates
(the bigrams may occur apart). A one-character term cannot use the index; the inbox
searches the newest appeals for it instead.

SQLite keeps the index in a contentless FTS5 table (rowid = appeal id),
PostgreSQL in a table of tsvectors with a GIN index; both are created by migration
0007 and are not SQLModel tables. Indexing costs about as much as routing (a few
hundred index entries an appeal), so it is not the pipeline's work: the pipeline
adds each appeal to ``SearchBacklog`` as it opens the case and the indexing job
(every few seconds, one process at a time) empties the backlog. Search trails
routing by seconds. A database upgraded with appeals but no index queues them all
at start (``backfill_if_empty``); ``hub reindex`` rebuilds the index at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session, sessionmaker

from hub.db import insert_ignoring_conflicts, is_postgres, transaction
from hub.models import Appeal, SearchBacklog

TABLE = "appeal_search"
_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text_: str) -> str:
    """Lower case, letters and digits only: punctuation and spaces split nothing."""
    return _NOT_WORD.sub("", text_.lower())


def bigrams(text_: str) -> list[str]:
    clean = normalise(text_)
    return sorted({clean[i:i + 2] for i in range(len(clean) - 1)})


def indexable(term: str) -> bool:
    return len(normalise(term)) >= 2


def entries(appeals: Iterable[tuple[int, str, str]]) -> list[tuple[int, list[str]]]:
    """(appeal id, bigrams) for (appeal id, title, body): CPU work, done before the
    write transaction."""
    out = [(aid, bigrams(f"{title}\n{body}")) for aid, title, body in appeals]
    return [(aid, grams) for aid, grams in out if grams]


def index(session: Session, rows: list[tuple[int, list[str]]]) -> int:
    """Store ``entries`` in the index, in the caller's transaction; an appeal already
    indexed is left as it is (indexing is idempotent, like queuing for it)."""
    if not rows:
        return 0
    if is_postgres(session):
        session.execute(text(
            f"INSERT INTO {TABLE} (appeal_id, grams) VALUES (:id, array_to_tsvector(:grams)) "
            "ON CONFLICT (appeal_id) DO NOTHING"), [{"id": a, "grams": g} for a, g in rows])
        return len(rows)
    # a contentless FTS5 table enforces no unique rowid: a second insert would index
    # the appeal twice, so the ids already present are skipped here
    present: set[int] = set()
    ids = [a for a, _ in rows]
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        present.update(session.scalars(
            text(f"SELECT rowid FROM {TABLE} WHERE rowid IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": chunk}))
    fresh = [{"id": a, "grams": " ".join(g)} for a, g in rows if a not in present]
    if fresh:
        session.execute(text(f"INSERT INTO {TABLE} (rowid, grams) VALUES (:id, :grams)"), fresh)
    return len(fresh)


def matching(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    """``Appeal.id IN (appeals whose text holds every bigram of every term)``."""
    grams = sorted({g for term in terms for g in bigrams(term)})
    if dialect == "postgresql":
        query = " & ".join(f"'{g}'" for g in grams)  # bigrams hold letters and digits only
        ids = text(f"SELECT appeal_id FROM {TABLE} WHERE grams @@ CAST(:search_q AS tsquery)")
    else:
        query = " ".join(f'"{g}"' for g in grams)
        ids = text(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :search_q")
    return Appeal.id.in_(ids.bindparams(bindparam("search_q", query))
                         .columns(column("id", Integer)))


def enqueue(session: Session, appeal_ids: list[int]) -> None:
    """Ask for these appeals to be indexed (the pipeline, in its own transaction).

    Idempotent: an appeal already waiting (queued by the start-up backfill, or by a
    pipeline that lost its lease) is not an error, so the two can never collide."""
    if appeal_ids:
        insert_ignoring_conflicts(session, SearchBacklog.__table__,
                                  [{"appeal_id": i} for i in sorted(set(appeal_ids))],
                                  ["appeal_id"], [SearchBacklog.__table__.c.appeal_id])


def index_backlog(session_factory: sessionmaker[Session], batch: int = 200,
                  limit: int | None = None) -> int:
    """Index waiting appeals, oldest first, ``batch`` per write transaction; the
    bigrams are computed between a read and a short write. Returns how many.

    Batches are small because on SQLite each write holds the database's one write
    lock: 2,000 appeals held it about a second, and the intake's group commits (and a
    hot event's callers) waited behind it."""
    done = 0
    while limit is None or done < limit:
        with session_factory() as s:
            ids = list(s.scalars(select(SearchBacklog.appeal_id)
                                 .order_by(SearchBacklog.appeal_id).limit(batch)))
            if not ids:
                break
            texts = s.execute(select(Appeal.id, Appeal.title, Appeal.body)
                              .where(Appeal.id.in_(ids))).all()
        rows = entries((t.id, t.title, t.body) for t in texts)
        with transaction(session_factory) as s:
            index(s, rows)
            s.execute(delete(SearchBacklog).where(SearchBacklog.appeal_id.in_(ids)))
        done += len(ids)
    return done


def backfill_if_empty(session: Session) -> int:
    """After an upgrade that added the index, queue every stored appeal for the
    indexing job (which works through them in the background); a no-op once the
    index or its backlog holds anything. Returns how many were queued."""
    if session.scalar(select(SearchBacklog.appeal_id).limit(1)) is not None:
        return 0
    column = "appeal_id" if is_postgres(session) else "rowid"
    if session.execute(text(f"SELECT {column} FROM {TABLE} LIMIT 1")).first() is not None:
        return 0
    _queue_every_appeal(session)
    return int(session.scalar(select(func.count()).select_from(SearchBacklog)) or 0)


def _queue_every_appeal(session: Session) -> None:
    waiting = select(SearchBacklog.appeal_id).where(SearchBacklog.appeal_id == Appeal.id)
    session.execute(insert(SearchBacklog.__table__).from_select(  # type: ignore[arg-type]
        ["appeal_id"], select(Appeal.id).where(~waiting.exists())))


def _present(session: Session, ids: list[int]) -> set[int]:
    column = "appeal_id" if is_postgres(session) else "rowid"
    found: set[int] = set()
    for start in range(0, len(ids), 900):
        found.update(session.scalars(
            text(f"SELECT {column} FROM {TABLE} WHERE {column} IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": ids[start:start + 900]}))
    return found


def replace(session: Session, before: list[tuple[int, str, str]],
            after: list[tuple[int, str, str]]) -> int:
    """Index appeals whose text changed (erasure, retention) under their new text, in
    the caller's transaction. ``before`` is (id, title, body) as indexed: SQLite's
    contentless FTS5 can only delete a row given exactly the terms it indexed.
    Appeals not indexed yet are left to the backlog, which reads the new text."""
    indexed = _present(session, sorted({a for a, _, _ in before}))
    if not indexed:
        return 0
    if is_postgres(session):
        session.execute(text(f"DELETE FROM {TABLE} WHERE appeal_id IN :ids")
                        .bindparams(bindparam("ids", expanding=True)), {"ids": sorted(indexed)})
    else:
        old = [{"id": a, "grams": " ".join(g)} for a, g in
               entries((a, t, b) for a, t, b in before if a in indexed)]
        session.execute(text(f"INSERT INTO {TABLE} ({TABLE}, rowid, grams) "
                             "VALUES ('delete', :id, :grams)"), old)
    return index(session, entries((a, t, b) for a, t, b in after if a in indexed))


def compact(session: Session) -> None:
    """SQLite: merge the FTS5 segments, so deleted terms are gone from the file and not
    only marked deleted (after an erasure). PostgreSQL: VACUUM does it (see erasure)."""
    if not is_postgres(session):
        session.execute(text(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')"))


def clear(session: Session) -> None:
    if is_postgres(session):
        session.execute(text(f"DELETE FROM {TABLE}"))
    else:  # a contentless FTS5 table is emptied by its own command
        session.execute(text(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('delete-all')"))


def rebuild(session_factory: sessionmaker[Session], batch: int = 5_000) -> int:
    """Index every appeal again (after an upgrade that added the index). On PostgreSQL
    the GIN index is dropped while the rows go in and built once at the end, several
    times faster than maintaining it row by row; searches meanwhile scan."""
    with transaction(session_factory) as s:
        postgres = is_postgres(s)
        clear(s)
        if postgres:
            s.execute(text("DROP INDEX IF EXISTS ix_appeal_search_grams"))
        s.execute(delete(SearchBacklog))
        _queue_every_appeal(s)
    done = index_backlog(session_factory, batch)
    if postgres:
        with transaction(session_factory) as s:
            s.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            s.execute(text(f"CREATE INDEX ix_appeal_search_grams ON {TABLE} USING gin (grams)"))
    return done
