"""Give the heap memory freed by a wavefront step back to the operating system.

A step of a wide image allocates and frees many buffers of one to a few tens of MiB (a
chunk's ``h_s`` parameters, its ``ŷ``, its float pixels). glibc's allocator keeps freed
buffers of that size in its heaps (its mmap threshold rises to the largest freed block, up
to 32 MiB) and reuses them imperfectly, so the process's resident memory creeps up with the
chunk size. ``malloc_trim(0)`` between steps returns the free pages: on a 3072×32768 strip
decoded with 1024-px chunks the peak RSS fell by 50-135 MiB (of ~1.45 GiB), for a few
milliseconds per step (``benchmarks/gigapixel.py`` measures it at a gigapixel).

Elsewhere (another C library, macOS, Windows) :func:`release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache
from typing import Any

__all__ = ["release_free_memory"]


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the free pages of the C heap to the operating system (glibc's
    ``malloc_trim(0)``); ``False`` where the C library offers no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
