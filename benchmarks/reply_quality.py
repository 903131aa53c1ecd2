"""答复质检 on the departments' real replies (../shared/data/messages_with_replies.csv):
how many replies each rule flags, with examples, so a reader can judge whether the
check flags the right ones, and how long a check takes.

    python -m benchmarks.reply_quality [--examples 3] [--csv PATH]

Replies are taken in the order they were sent; the boilerplate rule compares each
with the 300 replies before it (the file names no department, so all replies count
as one unit's: the live check uses the unit's own). Nothing is tuned here: the rules
and their thresholds are those of hub/replies/quality.py.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import Counter, deque
from pathlib import Path

from hub.replies.quality import LABELS, check, content_of, shingles
from hub.settings import REPO_ROOT

DATA = REPO_ROOT.parent / "shared" / "data" / "messages_with_replies.csv"
WINDOW = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=DATA)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"no data at {args.csv}: nothing to measure")
        return
    with args.csv.open(encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["答复时间"])
    earlier: deque[frozenset[str]] = deque(maxlen=WINDOW)
    counts: Counter[str] = Counter()
    examples: dict[str, list[tuple[str, str, str]]] = {code: [] for code in LABELS}
    flagged_any, times = 0, []
    check("预热", "预热", "预热")  # jieba's dictionary loads once, outside the timings
    for row in rows:
        started = time.perf_counter()
        flags = check(row["留言主题"], row["留言详情"], row["答复意见"], earlier)
        times.append((time.perf_counter() - started) * 1000)
        earlier.append(shingles(content_of(row["答复意见"])))
        flagged_any += bool(flags)
        for flag in flags:
            counts[flag.code] += 1
            if len(examples[flag.code]) < args.examples:
                examples[flag.code].append((row["留言主题"], row["答复意见"], flag.text))
    total = len(rows)
    print(f"replies checked: {total}; flagged by at least one rule: {flagged_any} "
          f"({flagged_any / total:.1%})")
    print(f"check time per reply: median {statistics.median(times):.2f} ms, "
          f"p99 {sorted(times)[int(0.99 * len(times))]:.2f} ms (window {WINDOW})")
    print("| rule | flagged | share |")
    print("| --- | ---: | ---: |")
    for code, label in LABELS.items():
        print(f"| {label} (`{code}`) | {counts[code]} | {counts[code] / total:.1%} |")
    for code, label in LABELS.items():
        print(f"\n## {label}")
        for title, reply, text in examples[code]:
            shown = reply if len(reply) <= 160 else reply[:160] + "…"
            print(f"- 《{title}》 → {shown}\n  ⇒ {text}")


if __name__ == "__main__":
    main()
