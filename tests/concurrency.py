"""Running the same work in several threads at once, as several processes would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def together(work: Callable[[], T], n: int = 2) -> tuple[list[T], list[BaseException]]:
    """Run ``work`` in ``n`` threads started together; (results, errors) once all end."""
    results: list[T] = []
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's assertions
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
