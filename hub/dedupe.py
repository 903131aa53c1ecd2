"""Cross-channel duplicates: the same matter arriving by hotline and by board is
linked to the first appeal and its case merged, so it is handled and counted once.

Each appeal's text gets a MinHash signature (character 3-grams); its 16 band keys
are stored in ``appealband``. A new appeal's candidates are earlier appeals within
the window sharing a band key; a candidate whose real Jaccard similarity reaches
the threshold is its original. Exact copies share every band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.db import is_postgres
from hub.models import Appeal, AppealBand
from hub.textsim import MinHasher, band_keys, jaccard, shingles

WINDOW = timedelta(days=14)
THRESHOLD = 0.6
MIN_CHARS = 20  # shorter texts ("路灯不亮") repeat honestly; never merge on them
_hasher = MinHasher()


@dataclass(frozen=True)
class Fingerprint:
    appeal_id: int
    received_at: datetime
    grams: frozenset[str]
    keys: tuple[int, ...]


def fingerprint(appeal_id: int, received_at: datetime, title: str, body: str) -> Fingerprint:
    """Computed outside any transaction (NumPy work)."""
    grams = shingles(body if len(body) >= MIN_CHARS else f"{title}{body}")
    keys = tuple(band_keys(_hasher.signature(grams))) if len(grams) >= MIN_CHARS else ()
    return Fingerprint(appeal_id, received_at, grams, keys)


def find_originals(session: Session, prints: list[Fingerprint]) -> dict[int, tuple[int, float]]:
    """For each appeal with an earlier near-duplicate: (original appeal id, similarity).

    Also links duplicates inside the batch itself. Stores the batch's band keys.
    """
    usable = [p for p in prints if p.keys]
    if not usable:
        return {}
    earliest = min(p.received_at for p in usable) - WINDOW
    all_keys = sorted({k for p in usable for k in p.keys})
    by_key: dict[int, set[int]] = {}
    for start in range(0, len(all_keys), 900):
        chunk = all_keys[start:start + 900]
        for key, appeal_id in session.execute(
                select(AppealBand.key, AppealBand.appeal_id)
                .where(AppealBand.key.in_(chunk), AppealBand.received_at >= earliest)):
            by_key.setdefault(key, set()).add(appeal_id)
    candidate_ids = {a for ids in by_key.values() for a in ids}
    texts: dict[int, tuple[datetime, frozenset[str]]] = {}
    if candidate_ids:
        for aid, at, title, body in session.execute(
                select(Appeal.id, Appeal.received_at, Appeal.title, Appeal.body)
                .where(Appeal.id.in_(sorted(candidate_ids)))):
            texts[aid] = (at, shingles(body if len(body) >= MIN_CHARS else f"{title}{body}"))
    found: dict[int, tuple[int, float]] = {}
    for p in sorted(usable, key=lambda p: (p.received_at, p.appeal_id)):
        best: tuple[int, float] | None = None
        for cand in sorted({a for k in p.keys for a in by_key.get(k, ())}):
            if cand == p.appeal_id or cand not in texts:
                continue
            at, grams = texts[cand]
            if at > p.received_at or (at == p.received_at and cand > p.appeal_id):
                continue  # only an earlier appeal can be the original
            if p.received_at - at > WINDOW:
                continue
            score = jaccard(p.grams, grams)
            if score >= THRESHOLD and (best is None or score > best[1]):
                best = (found.get(cand, (cand, 1.0))[0], score)  # point at the first one
        if best is not None:
            found[p.appeal_id] = best
        for k in p.keys:  # later appeals of this batch may repeat this one
            by_key.setdefault(k, set()).add(p.appeal_id)
        texts[p.appeal_id] = (p.received_at, p.grams)
    _store_bands(session, [(k, p.appeal_id, p.received_at) for p in usable for k in p.keys])
    return found


def _store_bands(session: Session, rows: list[tuple[int, int, datetime]]) -> None:
    """Sixteen rows an appeal: on PostgreSQL by COPY (in this transaction), several
    times cheaper than an INSERT per row; elsewhere one executemany of a Core insert."""
    if is_postgres(session):
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
                "COPY appealband (key, appeal_id, received_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    session.execute(insert(AppealBand.__table__), [  # type: ignore[arg-type]
        {"key": k, "appeal_id": a, "received_at": at} for k, a, at in rows])
