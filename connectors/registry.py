"""Which connector reads which ``kind``: every module of this package is looked at
once, and each ``Connector`` subclass with its own ``kind`` is registered. Adding a
channel kind is adding its module; nothing else names it.

It also checks the sources in config/sources.toml against the connectors' option
declarations at start (``Hub.open``: `hub init`, `hub serve`, `hub pull`), so a
mistake stops start-up with the file, the source, the option and the reason.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import connectors
from connectors.base import Connector
from connectors.options import SOURCE_KEYS, check_options

# kinds the hub serves itself: pushed through the intake API, or entered by staff
BUILT_IN_KINDS = {"push": "items arrive through POST /api/v1/appeals with the source's key",
                  "internal": "items entered in the hub itself (hotline desk, QR evaluation, "
                              "imports)"}

_kinds: dict[str, type[Connector]] | None = None


def kinds() -> dict[str, type[Connector]]:
    """kind -> connector class, for every connector module in the package."""
    global _kinds
    if _kinds is None:
        found: dict[str, type[Connector]] = {}
        for info in sorted(pkgutil.iter_modules(connectors.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"connectors.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                kind = cls.__dict__.get("kind")
                if issubclass(cls, Connector) and kind and cls.__module__ == module.__name__:
                    if kind in found:
                        raise RuntimeError(f"two connectors claim kind {kind!r}: "
                                           f"{found[kind].__module__} and {module.__name__}")
                    found[kind] = cls
        _kinds = found
    return _kinds


def connector_class(kind: str) -> type[Connector] | None:
    return kinds().get(kind)


@contextmanager
def registered(cls: type[Connector]) -> Iterator[None]:
    """A connector class defined outside the package (a test's), for a while."""
    table = kinds()
    table[cls.kind] = cls
    try:
        yield
    finally:
        table.pop(cls.kind, None)


def check_sources(config: Any) -> None:
    """Raise ConfigError for the first source whose kind or options are wrong."""
    from hub.config import ConfigError

    for spec in config.sources:
        for option, reason in source_problems(spec.kind, spec.options):
            line = spec.line_of(option) if option else spec.line
            where = f"source {spec.name!r}" + (f", option {option!r}" if option else "")
            raise ConfigError(spec.path, line, f"{where}: {reason}")


def source_problems(kind: str, options: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(option or None, reason) for every mistake in one source's settings."""
    if kind in BUILT_IN_KINDS:
        return [(key, "unknown option" + _guess(key, list(SOURCE_KEYS)) +
                 f" ({kind} sources take no connector options)") for key in options]
    cls = connector_class(kind)
    if cls is None:
        known = sorted([*kinds(), *BUILT_IN_KINDS])
        return [("kind", f"unknown kind {kind!r}{_guess(kind, known)}; "
                 f"kinds: {', '.join(known)}")]
    return [(e.option, e.reason) for e in check_options(cls.declared_options(), options)]


def _guess(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
