"""Tokenising Chinese appeal text with jieba, taught the city's own names."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

import jieba

jieba.setLogLevel(logging.WARNING)
_PUNCT = re.compile(r"^[\W_]+$")
_lock = threading.Lock()
_known: set[str] = set()


def add_words(words: Iterable[str]) -> None:
    """Teach jieba place and unit names so 'A7县星沙街道' is not cut in odd places."""
    with _lock:
        for word in words:
            if word and word not in _known:
                jieba.add_word(word, freq=20000)
                _known.add(word)


def compose(title: str, body: str) -> str:
    """The classifier's input: the subject counts twice, it is the densest signal."""
    return f"{title}\n{title}\n{body}"


def tokens(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip() and not _PUNCT.match(w)]


def token_string(text: str) -> str:
    """Space-joined tokens: what the vectorizers read (cheap to cache and to pickle)."""
    return " ".join(tokens(text))
