"""Near-duplicate text: character shingles, Jaccard similarity and MinHash.

Chinese has no spaces, so shingles are overlapping character n-grams of the text
with whitespace and punctuation removed. MinHash signatures estimate Jaccard
similarity cheaply; LSH bands find candidate pairs without comparing all pairs.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_MASK = (1 << 32) - 1
_PRIME = (1 << 61) - 1


def shingles(text: str, n: int = 3) -> frozenset[str]:
    clean = _NOISE.sub("", text)
    if len(clean) <= n:
        return frozenset([clean]) if clean else frozenset()
    return frozenset(clean[i:i + n] for i in range(len(clean) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")


class MinHasher:
    """``num_perm`` universal hashes; the signature is the minimum of each."""

    def __init__(self, num_perm: int = 64, seed: int = 7) -> None:
        import random

        rng = random.Random(seed)
        self.params = [(rng.randrange(1, _PRIME), rng.randrange(0, _PRIME))
                       for _ in range(num_perm)]

    def signature(self, grams: Iterable[str]) -> tuple[int, ...]:
        hashes = [_hash(g) for g in grams]
        if not hashes:
            return tuple(_MASK for _ in self.params)
        return tuple(min(((a * h + b) % _PRIME) & _MASK for h in hashes) for a, b in self.params)


def estimate(sig_a: tuple[int, ...], sig_b: tuple[int, ...]) -> float:
    return sum(x == y for x, y in zip(sig_a, sig_b, strict=True)) / len(sig_a)


class LSHIndex:
    """Bands of a MinHash signature as bucket keys: similar texts share a bucket."""

    def __init__(self, bands: int = 16) -> None:
        self.bands = bands
        self.buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)

    def _keys(self, sig: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
        rows = len(sig) // self.bands
        return [(b, sig[b * rows:(b + 1) * rows]) for b in range(self.bands)]

    def candidates(self, sig: tuple[int, ...]) -> set[int]:
        found: set[int] = set()
        for key in self._keys(sig):
            found.update(self.buckets.get(key, ()))
        return found

    def add(self, item: int, sig: tuple[int, ...]) -> None:
        for key in self._keys(sig):
            self.buckets[key].append(item)
