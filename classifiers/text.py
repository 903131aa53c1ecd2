"""Tokenising Chinese appeal text with jieba's dictionary and algorithm, taught the
city's own names.

Two implementations of the same segmenter are available: ``rjieba`` (jieba-rs, the
Rust port with jieba's dictionary, DAG and HMM; about 15 times faster, the default)
and ``jieba`` (the Python original). Tokenising is most of the pipeline's CPU time,
so the default matters; a model records which one it was trained with and keeps
using it (models trained before the choice existed used ``jieba``).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable

import jieba

try:  # wheels exist for the usual platforms; elsewhere it would need Rust to build
    import rjieba
except ImportError:  # pragma: no cover - exercised only where rjieba is missing
    rjieba = None

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)
DEFAULT_TOKENIZER = "rjieba" if rjieba is not None else "jieba"
_PUNCT = re.compile(r"^[\W_]+$")
_lock = threading.Lock()
_known: set[str] = set()  # every word add_words was given
_jieba_taught: set[str] = set()  # those the Python jieba has learnt so far
_jieba_behind = False
_CUTTERS: dict[str, Callable[[str], list[str]]] = {}
if rjieba is not None:
    _CUTTERS["rjieba"] = rjieba.cut


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenters place and unit names so 'A7县星沙街道' is not cut oddly.

    rjieba learns them at once; the Python jieba only when it is first used to cut
    (teaching it loads its whole dictionary: ~50 MiB in every process, for nothing
    where rjieba does the work)."""
    global _jieba_behind
    with _lock:
        for word in words:
            if word and word not in _known:
                if rjieba is not None:
                    rjieba.add_word(word, 20000, None)
                _known.add(word)
                _jieba_behind = True


def _jieba_cut() -> Callable[[str], list[str]]:
    """jieba.lcut, once jieba knows every word add_words was given."""
    global _jieba_behind
    if _jieba_behind:
        with _lock:
            for word in _known - _jieba_taught:
                jieba.add_word(word, freq=20000)
                _jieba_taught.add(word)
            _jieba_behind = False
    return jieba.lcut


def compose(title: str, body: str) -> str:
    """The classifier's input: the subject counts twice, it is the densest signal."""
    return f"{title}\n{title}\n{body}"


@functools.cache
def _say_rjieba_is_missing() -> None:  # once, not per text
    log.warning("rjieba is not installed; tokenising with jieba instead")


def cutter(name: str) -> Callable[[str], list[str]]:
    if name == "rjieba" and rjieba is None:
        # same dictionary and algorithm: a model trained with rjieba still routes with
        # jieba, only slower (numbers and dashes are cut a little differently)
        _say_rjieba_is_missing()
        return _jieba_cut()
    if name == "jieba":
        return _jieba_cut()
    try:
        return _CUTTERS[name]
    except KeyError:
        raise ValueError(f"unknown tokenizer {name!r} (known: rjieba, jieba)") from None


def tokens(text: str, tokenizer: str = DEFAULT_TOKENIZER) -> list[str]:
    return [w for w in cutter(tokenizer)(text) if w.strip() and not _PUNCT.match(w)]


def token_string(text: str, tokenizer: str = DEFAULT_TOKENIZER) -> str:
    """Space-joined tokens: what the vectorizers read (cheap to cache and to pickle)."""
    return " ".join(tokens(text, tokenizer))
