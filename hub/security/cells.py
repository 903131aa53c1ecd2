"""Spreadsheet cells that open as text, never as formulas.

A citizen can write '=HYPERLINK("http://evil", "点此")' or '+86…' in an appeal; a
staff member opening the export in Excel or WPS would run it. Text starting with
= + - @ (or a tab or carriage return, which some programs skip) gets a leading
apostrophe, as OWASP recommends; characters that XLSX cannot hold (control
characters) are removed, since openpyxl refuses them.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as it may be written to a CSV or XLSX cell."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
