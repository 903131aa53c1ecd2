"""Giving freed memory back to the system (glibc's allocator).

Under a hot event the pipeline's and the pools' threads allocate and free many
short-lived objects. glibc keeps what is freed in per-thread arenas, so a process's
resident memory grows though its Python heap does not: in a soak on PostgreSQL the
memory Python had allocated (tracemalloc) stayed at ~200 MiB while the free lists
held by the arenas grew from 183 to 279 MiB in three minutes. Two remedies, both
documented glibc tunables:

- fewer arenas (``M_ARENA_MAX``), set before the thread pools start, so freed memory
  is reused instead of spread over up to eight arenas per core;
- ``malloc_trim(0)`` once a minute, which hands free pages inside the arenas (not
  only at their tops) back to the kernel.

Both are no-ops where the C library is not glibc (musl, macOS).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2
TRIM_EVERY_S = 60.0


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap the number of malloc arenas; call before threads are started."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Return free memory to the kernel; True if some was returned."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


def start_trimming(every: float = TRIM_EVERY_S) -> asyncio.Task[None] | None:
    """Trim once a period in a worker thread (ctypes releases the GIL, so the event
    loop keeps serving meanwhile); None where there is nothing to trim."""
    if _glibc() is None:
        return None

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(trim)
            except Exception:  # noqa: BLE001 - never let this take the process down
                log.exception("malloc_trim failed")

    return asyncio.create_task(loop(), name="malloc-trim")
