"""A citizen's personal data over its life (PIPL): find it, erase it, let it expire.

- ``find``: the appeals that name a phone number or a person, in their contact
  fields, their text or their raw payload.
- ``erase``: on the citizen's request, their appeals are anonymised everywhere the
  hub keeps text: contact fields and address cleared; the name, the phone and any
  phone or ID number replaced by ``[已删除]`` in titles, bodies, raw payloads,
  replies, event notes, ratings, QR evaluations and retraining labels; the search
  index and the near-duplicate bands rebuilt from the cleaned text; quarantined raw
  bytes cleaned in their own encoding; stored ranking reports and their files
  cleaned. An audit row says who erased and why, and which cases, never what.
- ``apply_retention`` (a daily job): contact details of cases closed more than
  ``HUB_RETENTION_MONTHS`` ago are anonymised the same way, minus the names the
  citizen would have given on request.

The case itself stays (the city must account for its handling); it no longer says
who asked. Backups and WAL archives keep the old rows until they expire (see
deploy/README.md); the router model keeps no text, only word weights, and is
rebuilt by the weekly retrain.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete, insert, or_, select, text, update
from sqlalchemy.orm import Session

from hub import search
from hub.core import Hub
from hub.db import is_postgres, transaction
from hub.dedupe import fingerprint
from hub.models import (
    Appeal,
    AppealBand,
    Case,
    CaseEvent,
    PrivacyEvent,
    QuarantinedItem,
    RankingReport,
    Rating,
    Reply,
    RoutingLabel,
    Source,
    UnitEvaluation,
    utcnow,
)

REDACTED = "[已删除]"
# keys of a channel's raw item that hold who the citizen is
PERSONAL_KEYS = frozenset({
    "contact_name", "contact_phone", "location", "caller_name", "caller_phone", "name",
    "nickname", "phone", "mobile", "tel", "telephone", "address", "id_card", "idcard",
    "id_number", "email", "wechat", "qq", "author"})
_NUMBER = re.compile(r"(?<![0-9])(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|\d{17}[0-9Xx]|\d{15}|"
                     r"0\d{2,3}-?\d{7,8})(?![0-9Xx])")
# tables whose rows an erasure may rewrite: PostgreSQL vacuums them afterwards
TOUCHED = ("appeal", "appeal_search", "appealband", "reply", "caseevent", "rating",
           "unitevaluation", "routinglabel", "quarantineditem", "rankingreport")


class ErasureError(ValueError):
    """The request cannot be carried out as given (nothing to match on, no reason)."""


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


@dataclass
class Redactor:
    """Replaces the given identifiers (longest first) and any phone/ID number."""

    identifiers: list[str] = field(default_factory=list)

    def add(self, *values: str | None) -> None:
        for value in values:
            value = (value or "").strip()
            if len(value) >= 2 and value not in self.identifiers:
                self.identifiers.append(value)
            phone = digits(value)
            if len(phone) >= 7 and phone not in self.identifiers:
                self.identifiers.append(phone)
        self.identifiers.sort(key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        for ident in self.identifiers:
            value = value.replace(ident, REDACTED)
        return _NUMBER.sub(REDACTED, value)

    def data(self, value: Any, personal_keys: bool = True) -> Any:
        """A JSON value with every string redacted and, for a channel's raw item
        (``personal_keys``), the fields that say who the citizen is cleared."""
        if isinstance(value, dict):
            return {k: None if personal_keys and k.lower() in PERSONAL_KEYS
                    else self.data(v, personal_keys) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v, personal_keys) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def raw_bytes(self, raw: bytes) -> bytes:
        """Quarantined bytes, cleaned in the encoding they came in."""
        for encoding in ("utf-8", "gb18030"):
            try:
                decoded = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            cleaned = self.text(decoded) or ""
            for ident in self.identifiers:  # JSON text may hold them \\u-escaped
                cleaned = cleaned.replace(json.dumps(ident)[1:-1], REDACTED)
            return cleaned.encode(encoding, errors="xmlcharrefreplace")
        return raw  # undecodable bytes cannot hold a readable name; kept as they are


@dataclass(frozen=True)
class Match:
    appeal_id: int
    case_number: str | None
    source: str
    received_at: datetime
    state: str
    where: tuple[str, ...]
    anonymised: bool

    def as_dict(self) -> dict[str, Any]:
        return {"appeal": self.appeal_id, "case": self.case_number, "source": self.source,
                "received_at": self.received_at.isoformat(timespec="minutes"),
                "state": self.state, "matched": list(self.where),
                "anonymised": self.anonymised}


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _patterns(phone: str | None, name: str | None) -> list[str]:
    """What to look for: the phone's digits (and the name) as typed and as JSON
    escapes them (raw payloads are stored with \\u escapes)."""
    out = []
    if phone:
        d = digits(phone)
        out.append(d)
        if len(d) == 11:  # as people write mobiles in text: 137-1234-5678, 137 1234 5678
            out += [f"{d[:3]}{sep}{d[3:7]}{sep}{d[7:]}" for sep in ("-", " ")]
    if name:
        out += [name, json.dumps(name)[1:-1]]
    return [p for p in dict.fromkeys(out) if p]


def find(session: Session, phone: str | None = None, name: str | None = None) -> list[Match]:
    """Appeals naming this phone or person anywhere in their fields, text or payload."""
    if not (phone and len(digits(phone)) >= 7) and not (name and len(name.strip()) >= 2):
        raise ErasureError("give a phone number (7+ digits) or a name (2+ characters)")
    name = name.strip() if name else None
    where = []
    if phone:
        where.append(Appeal.contact_phone.like(_like(digits(phone)), escape="\\"))
    if name:
        where.append(Appeal.contact_name == name)
    for pattern in _patterns(phone, name):
        like = _like(pattern)
        where += [Appeal.title.like(like, escape="\\"), Appeal.body.like(like, escape="\\"),
                  cast(Appeal.raw, Text).like(like, escape="\\")]
    rows = session.execute(
        select(Appeal, Case.number, Source.name).join(Source, Source.id == Appeal.source_id)
        .outerjoin(Case, Case.appeal_id == Appeal.id).where(or_(*where)).order_by(Appeal.id))
    out = []
    for appeal, number, source in rows:
        hits = []
        if phone and digits(appeal.contact_phone or "") == digits(phone):
            hits.append("contact_phone")
        if name and appeal.contact_name == name:
            hits.append("contact_name")
        for label, value in (("title", appeal.title), ("body", appeal.body),
                             ("raw", json.dumps(appeal.raw or {}))):
            if any(p in value for p in _patterns(phone, name)):
                hits.append(label)
        if phone and not hits and digits(phone) in digits(appeal.contact_phone or ""):
            hits.append("contact_phone")
        if hits:
            out.append(Match(appeal.id, number, source, appeal.received_at, appeal.state,
                             tuple(hits), appeal.anonymised_at is not None))
    return out


def _clean_case_rows(session: Session, case_ids: list[int], redact: Redactor) -> None:
    if not case_ids:
        return
    for model, column in ((Reply, Reply.body), (CaseEvent, CaseEvent.note),
                          (Rating, Rating.comment), (UnitEvaluation, UnitEvaluation.comment),
                          (RoutingLabel, RoutingLabel.text)):
        case_col = model.case_id  # type: ignore[attr-defined]
        for row_id, value in session.execute(select(model.id, column)  # type: ignore[attr-defined]
                                             .where(case_col.in_(case_ids))):
            cleaned = redact.text(value)
            if cleaned != value:
                session.execute(update(model).where(model.id == row_id)  # type: ignore[attr-defined]
                                .values({column.key: cleaned}))


def _anonymise(session: Session, appeals: list[Appeal], redact_for: Any,
               now: datetime) -> list[int]:
    """Clean the appeals and everything hanging off their cases; returns case ids."""
    before = [(a.id, a.title, a.body) for a in appeals]
    case_ids: list[int] = []
    for appeal in appeals:
        redact: Redactor = redact_for(appeal)
        appeal.title = redact.text(appeal.title) or ""
        appeal.body = redact.text(appeal.body) or ""
        appeal.raw = redact.data(appeal.raw) if appeal.raw is not None else None
        appeal.contact_name = appeal.contact_phone = appeal.location = None
        appeal.anonymised_at = now
        case_id = session.scalar(select(Case.id).where(Case.appeal_id == appeal.id))
        if case_id is not None:
            case_ids.append(case_id)
            _clean_case_rows(session, [case_id], redact)
    session.flush()
    after = [(a.id, a.title, a.body) for a in appeals]
    search.replace(session, before, after)
    ids = [a.id for a in appeals]
    session.execute(delete(AppealBand).where(AppealBand.appeal_id.in_(ids)))
    bands = [{"key": k, "appeal_id": a.id, "received_at": a.received_at}
             for a in appeals for k in fingerprint(a.id, a.received_at, a.title, a.body).keys]
    if bands:
        session.execute(insert(AppealBand.__table__), bands)  # type: ignore[arg-type]
    return case_ids


def _clean_quarantine(session: Session, redact: Redactor) -> int:
    patterns = [p.encode(enc, errors="ignore") for p in redact.identifiers
                for enc in ("utf-8", "gb18030")]
    patterns += [json.dumps(p)[1:-1].encode() for p in redact.identifiers]
    cleaned = 0
    for item in session.scalars(select(QuarantinedItem)):
        if any(p and p in item.raw for p in patterns):
            item.raw = redact.raw_bytes(item.raw)
            item.reason = redact.text(item.reason) or ""
            cleaned += 1
    return cleaned


def _clean_reports(session: Session, redact: Redactor, folder: Path) -> list[str]:
    """Stored ranking payloads naming the citizen (a hot issue's keywords could), and
    every report file written under var/reports."""
    from hub.ranking.publish import write_files

    periods = []
    for report in session.scalars(select(RankingReport)):
        dumped = json.dumps(report.payload, ensure_ascii=False)
        if any(i in dumped for i in redact.identifiers):
            report.payload = redact.data(report.payload, personal_keys=False)  # unit names stay
            periods.append(report.period)
            if folder.exists():
                write_files(report.payload, folder)
    if folder.exists():
        for path in sorted(folder.iterdir()):
            _clean_file(path, redact)
    return periods


def _clean_file(path: Path, redact: Redactor) -> None:
    if path.suffix in (".json", ".csv", ".html", ".txt"):
        data = path.read_text(encoding="utf-8-sig" if path.suffix == ".csv" else "utf-8")
        cleaned = redact.text(data) if any(i in data for i in redact.identifiers) else data
        if cleaned != data:
            prefix = "\ufeff" if path.suffix == ".csv" else ""
            path.write_text(prefix + (cleaned or ""), encoding="utf-8")
    elif path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path)
        changed = False
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and \
                            any(i in cell.value for i in redact.identifiers):
                        cell.value = redact.text(cell.value)
                        changed = True
        if changed:
            out = io.BytesIO()
            book.save(out)
            path.write_bytes(out.getvalue())


def erase(hub: Hub, appeal_ids: Iterable[int], actor: str, reason: str,
          phone: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Anonymise these appeals everywhere, in one transaction, with one audit row."""
    ids = sorted(set(appeal_ids))
    if not ids:
        raise ErasureError("no appeals to erase")
    if not actor.strip() or len(reason.strip()) < 4:
        raise ErasureError("say who erases (--by) and why (--reason, a few words)")
    now = utcnow()
    with transaction(hub.sessions) as s:
        if not is_postgres(s):  # freed pages are overwritten, not left in the file
            s.execute(text("PRAGMA secure_delete = ON"))
        appeals = list(s.scalars(select(Appeal).where(Appeal.id.in_(ids)).order_by(Appeal.id)))
        if len(appeals) != len(ids):
            missing = sorted(set(ids) - {a.id for a in appeals})
            raise ErasureError(f"no appeal {missing[0]}")
        everyone = Redactor()
        everyone.add(phone, name)
        for appeal in appeals:
            everyone.add(appeal.contact_name, appeal.contact_phone, appeal.location)
        case_ids = _anonymise(s, appeals, lambda _a: everyone, now)
        quarantined = _clean_quarantine(s, everyone)
        periods = _clean_reports(s, everyone, hub.settings.var_dir / "reports")
        numbers = list(s.scalars(select(Case.number).where(Case.id.in_(case_ids))
                                 .order_by(Case.number))) if case_ids else []
        why = everyone.text(reason.strip()) or ""
        for case_id in case_ids:
            s.add(CaseEvent(case_id=case_id, actor=actor[:60], action="erase",
                            note=f"应公民申请删除个人信息：{why}"))
        s.add(PrivacyEvent(actor=actor[:120], action="erase", reason=why,
                           appeals=len(appeals), cases=numbers))
        if not is_postgres(s):
            s.execute(text("PRAGMA secure_delete = OFF"))
    _scrub_storage(hub)
    return {"appeals": len(appeals), "cases": numbers, "quarantined_items": quarantined,
            "reports": periods}


def _scrub_storage(hub: Hub) -> None:
    """Make the old rows unreadable in the files too: SQLite merges the search index
    (its deleted terms then vanish) and checkpoints the WAL; PostgreSQL vacuums."""
    if is_postgres(hub.engine):
        with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in TOUCHED:
                conn.execute(text(f"VACUUM {table}"))
        return
    with transaction(hub.sessions) as s:
        s.execute(text("PRAGMA secure_delete = ON"))
        search.compact(s)
        s.execute(text("PRAGMA secure_delete = OFF"))
    with hub.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


RETENTION_BATCH = 500


def apply_retention(hub: Hub, now: datetime | None = None) -> dict[str, int]:
    """Anonymise contact details of cases closed more than HUB_RETENTION_MONTHS ago, a
    batch per transaction; one audit row for the run."""
    now = now or utcnow()
    months = hub.settings.retention_months
    cutoff = now - timedelta(days=round(months * 30.44))
    done = 0
    while True:
        with transaction(hub.sessions) as s:
            appeals = list(s.scalars(
                select(Appeal).join(Case, Case.appeal_id == Appeal.id)
                .where(Case.state == "closed", Case.closed_at < cutoff,
                       Appeal.anonymised_at.is_(None))
                .order_by(Appeal.id).limit(RETENTION_BATCH)))
            if not appeals:
                break

            def contact_of(appeal: Appeal) -> Redactor:
                redact = Redactor()
                redact.add(appeal.contact_name, appeal.contact_phone, appeal.location)
                return redact

            _anonymise(s, appeals, contact_of, now)
            done += len(appeals)
    if done:
        with transaction(hub.sessions) as s:
            s.add(PrivacyEvent(actor="retention", action="retention",
                               reason=f"cases closed before {cutoff:%Y-%m-%d} "
                                      f"(HUB_RETENTION_MONTHS={months})", appeals=done))
    return {"appeals": done}
