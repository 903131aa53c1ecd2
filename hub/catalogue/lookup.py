"""What the router consults: the catalogue as a snapshot, and the finer category.

The classifier predicts the first-level category (一级分类); the second and third
levels come from the category tree's own words (``FinerCategories``): the third-level
name (or a word of it) in the text picks it, else the second-level one. The snapshot
answers with the most specific line in force on the day: a third-level line beats a
second-level one, which beats the category's; a county's line beats an any-area one.
Pure and in memory: the pipeline reloads it when the catalogue changes
(``store.signature``), so an edit applies from its effective date without retraining.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from classifiers.text import tokens

_SPLIT = re.compile(r"[\s、，,/]+")


@dataclass(frozen=True)
class Line:
    category: str
    subcategory: str | None
    item: str | None
    county: str | None
    unit: str
    start: date
    end: date | None  # exclusive

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Match:
    unit: str
    level: str  # 三级 | 二级 | 一级, what the line was keyed on
    for_county: bool  # the line names the county (else it holds for any area)


class Catalogue:
    """Lines by category; ``unit_for`` picks the most specific one in force."""

    def __init__(self, lines: list[Line]) -> None:
        self.by_category: dict[str, list[Line]] = {}
        for line in lines:
            self.by_category.setdefault(line.category, []).append(line)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_category.values())

    def unit_for(self, category: str | None, subcategory: str | None, item: str | None,
                 county: str | None, day: date) -> Match | None:
        best: tuple[tuple[int, int], Line] | None = None
        for line in self.by_category.get(category or "", ()):
            if not line.in_force(day):
                continue
            if line.county is not None and line.county != county:
                continue
            if line.subcategory is not None and line.subcategory != subcategory:
                continue
            if line.item is not None and line.item != item:
                continue
            level = 2 if line.item else 1 if line.subcategory else 0
            rank = (level, int(line.county is not None))
            if best is None or rank > best[0]:
                best = (rank, line)
        if best is None:
            return None
        return Match(best[1].unit, ("一级", "二级", "三级")[best[0][0]], bool(best[0][1]))


@dataclass(frozen=True)
class _Node:
    subcategory: str
    item: str | None
    terms: tuple[str, ...]


class FinerCategories:
    """Second/third-level guess from the category tree's words."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.nodes: dict[str, list[_Node]] = {}
        for top, sub, third in rows:
            if not top or not sub:
                continue
            items = [w for w in _SPLIT.split(third or "") if w] or [None]
            for item in items:
                self.nodes.setdefault(top, []).append(
                    _Node(sub, item, _terms(item) if item else ()))
            self.nodes.setdefault(top, []).append(_Node(sub, None, _terms(sub)))

    @classmethod
    def from_csv(cls, path: Path) -> FinerCategories:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return cls([((r.get("一级分类") or "").strip(), (r.get("二级分类") or "").strip(),
                         (r.get("三级分类") or "").strip()) for r in csv.DictReader(fh)])

    def guess(self, text: str, category: str | None) -> tuple[str | None, str | None]:
        """(二级, 三级) the text speaks of within ``category``; None where it does not
        say. A whole name counts three times a word of it; ties go to the tree's order."""
        best: tuple[int, _Node] | None = None
        for node in self.nodes.get(category or "", ()):
            score = sum(3 if len(t) > 2 and t == (node.item or node.subcategory) else 1
                        for t in node.terms if t in text)
            if score and (best is None or score > best[0] or
                          (score == best[0] and node.item and not best[1].item)):
                best = (score, node)
        if best is None:
            return None, None
        return best[1].subcategory, best[1].item


def _terms(name: str) -> tuple[str, ...]:
    """The name itself and its words of two characters or more (其他 says nothing)."""
    if name in ("其他", "其它"):
        return ()
    words = [w for w in tokens(name) if len(w) >= 2 and w not in ("其他", "问题", "管理")]
    return tuple(dict.fromkeys([name, *words]))
