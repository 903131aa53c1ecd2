"""Labels of groups of appeals (a hot issue, a surge) that may be published: words
most of the group's texts share, taken from text masked by hub/privacy.py, never a
person's name (the group's contact names, and words the segmenter tags as names),
never anything with a digit (phones, IDs, house numbers), ties broken by the word
itself, so the same texts always give the same label whatever the hash seed.

One definition for every place that names a group: the weekly hot issues
(hub/ranking/hot.py) and surges (hub/surge/desk.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from hub.privacy import mask_text

LABEL_WORDS = 4
# segmenter tags never used as label words: person names, numerals, pronouns, symbols
_NOT_LABELS = ("nr", "m", "r", "x", "q", "u", "p", "c", "w")
_DIGIT = re.compile(r"[0-9０-９]")


def _tagged(text: str) -> list[tuple[str, str]]:
    try:
        import rjieba

        return [(w, f) for w, f in rjieba.tag(text)]
    except ImportError:  # pragma: no cover - where rjieba's wheel is missing
        import jieba.posseg

        return [(p.word, p.flag) for p in jieba.posseg.lcut(text)]


def _is_name(word: str, names: list[str]) -> bool:
    return any(word in n or n in word or (len(n) >= 3 and word == n[1:]) for n in names)


def label_words(texts: Iterable[str], contact_names: Iterable[str | None] = ()) -> list[str]:
    """Up to four words shared by at least half (and two) of ``texts``: no personal
    data, no names, no numbers, and the same words for the same texts every time."""
    names = sorted({n.strip() for n in contact_names if n and len(n.strip()) >= 2})
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        total += 1
        counts.update({w for w, flag in _tagged(mask_text(text))
                       if len(w) >= 2 and not flag.startswith(_NOT_LABELS)
                       and not _DIGIT.search(w) and "*" not in w and "@" not in w
                       and not _is_name(w, names)})
    needed = max(2, (total + 1) // 2)
    ordered = sorted((w for w, n in counts.items() if n >= needed),
                     key=lambda w: (-counts[w], -len(w), w))
    return [mask_text(w) for w in ordered[:LABEL_WORDS]]
