"""Bulk import of past appeals from CSV (e.g. a board's export) into the queue.

Rows go through the same validation and the same exactly-once insert as the API;
a row that fails is quarantined with its raw bytes and reason, and the rest go on.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.errors import DataError
from hub.core import Hub
from hub.db import transaction
from hub.intake_schema import AppealIn, ItemError, validate_item
from hub.queue import enqueue, quarantine
from hub.security.text import unstorable


@dataclass(frozen=True)
class Mapping:
    external_id: str = "留言编号"
    title: str = "留言主题"
    body: str = "留言详情"
    received_at: str = "留言时间"
    votes: str | None = "点赞数"


def row_to_item(row: dict[str, str], mapping: Mapping) -> dict[str, Any]:
    item: dict[str, Any] = {
        "external_id": (row.get(mapping.external_id) or "").strip() or None,
        "title": row.get(mapping.title) or None,
        "body": row.get(mapping.body),
        "received_at": (row.get(mapping.received_at) or "").strip() or None,
    }
    if mapping.votes and (row.get(mapping.votes) or "").strip():
        try:
            item["votes"] = int(row[mapping.votes])
        except ValueError:
            item["votes"] = row[mapping.votes]  # let validation name the fault
    used = {mapping.external_id, mapping.title, mapping.body, mapping.received_at, mapping.votes}
    extra = {k: v for k, v in row.items() if k not in used and k}
    if extra:
        item["extra"] = extra
    return {k: v for k, v in item.items() if v is not None}


def import_csv(hub: Hub, path: Path, source: str, mapping: Mapping,
               batch_size: int = 2000) -> dict[str, Any]:
    if source not in hub.source_ids:
        raise DataError(f"unknown source {source!r}; configured: {', '.join(hub.source_ids)}")
    source_id = hub.source_ids[source]
    started = time.perf_counter()
    stats = {"rows": 0, "new": 0, "duplicates": 0, "quarantined": 0}
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or mapping.body not in reader.fieldnames:
            raise DataError(f"{path}: no column {mapping.body!r}")
        batch: list[AppealIn] = []
        bad: list[tuple[bytes, str, str | None]] = []

        def flush() -> None:
            with transaction(hub.sessions) as s:
                for res in enqueue(s, source_id, batch):
                    stats["new" if res.created else "duplicates"] += 1
                for raw, reason, ext in bad:
                    quarantine(s, source_id, raw, reason, ext)
            stats["quarantined"] += len(bad)
            batch.clear()
            bad.clear()

        try:
            for row in reader:
                stats["rows"] += 1
                item = row_to_item(row, mapping)
                try:
                    batch.append(validate_item(item, hub.config.earliest))
                except ItemError as exc:
                    ext = item.get("external_id")
                    bad.append((_raw_row(row), f"row {reader.line_num}: {exc.code}: "
                                f"{exc.message}",
                                None if not isinstance(ext, str) or unstorable(ext)
                                else ext[:128]))
                if len(batch) + len(bad) >= batch_size:
                    flush()
        except UnicodeDecodeError as exc:
            flush()
            raise DataError(f"{path}: not UTF-8 near row {stats['rows'] + 1}: {exc}") from None
        flush()
    stats["seconds"] = round(time.perf_counter() - started, 2)
    return stats


def _raw_row(row: dict[str, str]) -> bytes:
    buf = io.StringIO()
    json.dump(row, buf, ensure_ascii=False)
    return buf.getvalue().encode("utf-8")
