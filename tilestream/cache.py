"""Task results kept between region reads: the latents a region shares with its neighbours.

A viewer or a notebook reads region after region of one image; neighbouring regions read
the same ``ẑ`` chunks, the same ``h_s`` parameters and the same decoded ``ŷ`` chunks
(a region's synthesis reads a halo of latents around it). :class:`PartCache` keeps the
results of those tasks, least recently used dropped first, within a byte budget;
:func:`~tilestream.schedule.demand` takes what it holds instead of running the task again.
Nothing here imports torch or dask.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

__all__ = ["PartCache"]

Key = tuple[str, tuple[int, int]]


class PartCache:
    """Results of tasks by ``(stage, index)``, least recently used evicted first; safe to
    share between threads.

    Parameters
    ----------
    max_bytes : int
        Budget for the values held (``numpy`` arrays: their ``nbytes``).
    stages : iterable of str
        The stages whose results are kept (the others pass through).
    """

    def __init__(self, max_bytes: int, stages: Iterable[str]):
        if max_bytes < 0:
            raise ValueError(f"cache size {max_bytes} is negative; pass 0 (no cache) or more bytes")
        self.max_bytes = int(max_bytes)
        self.stages = frozenset(stages)
        self._items: OrderedDict[Key, Any] = OrderedDict()
        self._sizes: dict[Key, int] = {}
        self.nbytes = 0
        #: lookups that found a result / that did not
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Copied or pickled (xarray copies its arrays, dask ships them): the budget and
        the stages, not the results nor the lock."""
        return {"max_bytes": self.max_bytes, "stages": self.stages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_bytes"], state["stages"])  # type: ignore[misc]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def holds(self, key: Key) -> bool:
        """Whether ``key``'s stage is cached at all."""
        return key[0] in self.stages

    def get(self, key: Key) -> Any:
        """The result of ``key`` (marked recently used), or ``None``."""
        with self._lock:
            part = self._items.get(key)
            if part is None:
                if self.holds(key):
                    self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return part

    def put(self, key: Key, part: Any) -> None:
        """Keep ``part`` (if its stage is cached and it fits the budget)."""
        if not self.holds(key):
            return
        size = int(getattr(getattr(part, "value", None), "nbytes", 0))
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self.nbytes -= self._sizes[key]
            self._items[key] = part
            self._items.move_to_end(key)
            self._sizes[key] = size
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self.nbytes -= self._sizes.pop(old)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.nbytes = 0
