"""Helpers shared by the channel tests: a hub with a source configured against the
imitations (hub.simulate), and what the queue holds for it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from classifiers.train import SEED_CORPUS
from connectors.registry import source_problems
from hub.core import Hub
from hub.models import Appeal, Source
from hub.settings import REPO_ROOT, Settings
from hub.simulate import Message, imitation_options, load_messages
from tests.conftest import SHARED_DATA

N = 45
FAST = {"min_interval_seconds": 0, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


def messages(limit: int = N) -> list[Message]:
    """Real board messages when the shared data is present, else the seed corpus."""
    shared = SHARED_DATA / "labelled_train.csv"
    return load_messages(shared if shared.exists() else SEED_CORPUS, limit=limit)


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def source_options(kind: str, base: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options of a test source of ``kind`` against the imitations; a connector
    kind without an imitation, or whose imitation's options do not fit its
    declarations, fails with what its author has to add."""
    try:
        options = {**FAST, **imitation_options(kind, base), **(extra or {})}
    except KeyError as exc:
        pytest.fail(str(exc.args[0]), pytrace=False)
    problems = source_problems(kind, options)
    if problems:
        pytest.fail(f"the options for connector kind {kind!r} do not fit its declared OPTIONS: "
                    + "; ".join(f"{o}: {r}" for o, r in problems)
                    + " (fix IMITATED in hub/simulate.py or the connector's OPTIONS)",
                    pytrace=False)
    return options


def add_source(config: Path, name: str, kind: str, options: dict[str, Any]) -> None:
    if not config.exists():
        shutil.copytree(REPO_ROOT / "config", config)
    lines = [f'\n[[sources]]\nname = "{name}"\nkind = "{kind}"\ntitle = "测试{kind}"\n']
    lines += [f"{k} = {toml_value(v)}\n" for k, v in options.items()]
    with (config / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write("".join(lines))


def hub_with_source(settings: Settings, tmp_path: Path, kind: str, options: dict[str, Any],
                    name: str | None = None) -> Hub:
    config = tmp_path / "config"
    add_source(config, name or f"{kind}-test", kind, options)
    return Hub.open(settings.with_overrides(config_dir=config))


def count(hub: Hub, name: str) -> tuple[int, int]:
    """(rows, distinct external ids) the queue holds for source ``name``."""
    with hub.sessions() as s:
        sid = hub.source_ids[name]
        total = s.scalar(select(func.count()).select_from(Appeal).where(Appeal.source_id == sid))
        distinct = s.scalar(select(func.count(func.distinct(Appeal.external_id)))
                            .where(Appeal.source_id == sid))
        return total or 0, distinct or 0


def stored_ids(hub: Hub, name: str) -> list[str]:
    """External ids the queue holds for ``name``, one per row (repeats would show)."""
    with hub.sessions() as s:
        return sorted(s.scalars(select(Appeal.external_id).where(
            Appeal.source_id == hub.source_ids[name])))


def checkpoint(hub: Hub, name: str) -> str | None:
    with hub.sessions() as s:
        return s.scalar(select(Source.checkpoint).where(Source.name == name))
