"""Writing in a background thread: a sink's work overlaps the decoding of the next blocks.

The decode yields a row of blocks only after the row is computed, and computes the next
row only when its consumer asks for more; a sink that does real work per block (reducing
a pyramid, compressing tiles) would add all of it to the decode's time. :func:`feed` runs
the sink's writing in a thread of its own, fed through a bounded queue, so that the
decode goes on while the previous blocks are written (the compressors and numpy release
the GIL).

Failures cross over: an error of the writer stops the feeding and is raised in the
caller; an error or interrupt of the caller (or of the blocks' producer) stops the writer
(the iterator it reads raises :class:`Aborted`) before it propagates.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["Aborted", "feed"]

T = TypeVar("T")
_DONE, _ABORT = object(), object()


class Aborted(Exception):
    """Raised in the writer thread when the caller gave up (its own error follows)."""


def feed(write: Callable[[Iterator[T]], Any], items: Iterable[T], depth: int) -> None:
    """Run ``write(iterator)`` in a worker thread over ``items`` pulled here.

    Parameters
    ----------
    write : callable
        Consumes the iterator it is given (in the worker thread).
    items : iterable
        Pulled in the calling thread (a decode generator runs here, as without a thread).
    depth : int
        Items queued at most before the caller waits for the writer.

    Raises
    ------
    BaseException
        The writer's error, or the caller's (after the writer has stopped).
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=max(1, int(depth)))
    failure: list[BaseException] = []

    def pulled() -> Iterator[T]:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if item is _ABORT:
                raise Aborted("the decode feeding this writer stopped")
            yield item

    def work() -> None:
        try:
            write(pulled())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=work, name="tilestream-writer", daemon=True)
    thread.start()

    def put(item: Any) -> bool:
        """Queue ``item``; ``False`` once the writer has stopped."""
        while thread.is_alive():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            if not put(item):
                break
        put(_DONE)
        while thread.is_alive():
            thread.join(0.05)
    except BaseException:
        while True:  # make room for the stop token, then wait for the writer to see it
            try:
                box.get_nowait()
            except queue.Empty:
                break
        put(_ABORT)
        thread.join()
        raise
    if failure:
        close = getattr(items, "close", None)
        if close is not None:  # a generator left part-way (a decode): end it now
            close()
        raise failure[0]
