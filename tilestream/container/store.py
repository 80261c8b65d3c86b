"""Chunk bytes in a zarr v3 group: one variable-length byte string per latent chunk.

Each stored element is ``crc32 (4 bytes, little endian) + rANS bytes``; the checksum is
verified before the bytes reach CompressAI's C++ decoder.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from tilestream.container.schema import ContainerError

__all__ = ["ChunkStore", "frame", "unframe", "vlen_bytes_dtype"]

#: open array handles, least recently used first; bounded, so that a long-lived process
#: opening many containers does not keep every handle
_CACHE: OrderedDict[tuple[int, str, str, tuple[int, int]], Any] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def vlen_bytes_dtype() -> Any:
    """zarr's variable-length bytes data type (its "no v3 spec yet" warning silenced)."""
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.dtype.VariableLengthBytes()


def frame(data: bytes) -> bytes:
    """Prefix ``data`` with its CRC-32."""
    return struct.pack("<I", zlib.crc32(data)) + data


def unframe(element: bytes, what: str) -> bytes:
    """Strip and verify the CRC-32 prefix of a stored element."""
    if len(element) < 4:
        raise ContainerError(f"{what} is missing or truncated; the container is corrupt, re-encode it")
    (expected,) = struct.unpack("<I", element[:4])
    data = element[4:]
    if zlib.crc32(data) != expected:
        raise ContainerError(f"{what} fails its CRC-32 checksum; the container is corrupt, re-encode it")
    return data


class ChunkStore:
    """Reads and writes framed chunk bytes of a container at ``root`` (a folder; or a
    ``.zip`` file, read only).

    Picklable: workers reopen the arrays themselves.
    """

    def __init__(self, root: str, prefix: str = ""):
        self.root = os.fspath(root)
        #: prepended to stream names (the streams of one band group: ``"b1/"``)
        self.prefix = prefix

    def _array(self, stream: str, mode: str) -> Any:
        import zarr

        stream = self.prefix + stream
        try:  # a container replaced on disk (overwrite) must not be read through old handles
            st = os.stat(self.root)
            identity: tuple[int, int] = (st.st_ino, st.st_mtime_ns)
        except OSError:
            identity = (0, 0)
        key = (os.getpid(), self.root, stream, identity)
        with _LOCK:
            arr = _CACHE.get(key)
            if arr is not None:
                _CACHE.move_to_end(key)
            if arr is None or mode != "r":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if os.path.isfile(self.root):  # a committed .zip container
                        from zarr.storage import ZipStore

                        arr = zarr.open_array(ZipStore(self.root, mode="r"), path=stream, mode="r")
                    else:
                        arr = zarr.open_array(os.path.join(self.root, stream), mode=mode)
                _CACHE[key] = arr
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
        return arr

    def write(self, stream: str, i: int, j: int, data: bytes) -> int:
        """Store the bytes of chunk ``(i, j)`` of ``stream``; return the stored size."""
        element = np.empty((1, 1), dtype=object)
        element[0, 0] = frame(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._array(stream, "r+")[i : i + 1, j : j + 1] = element
        return len(data)

    def read(self, stream: str, i: int, j: int) -> bytes:
        """The verified bytes of chunk ``(i, j)`` of ``stream``.

        Raises
        ------
        ContainerError
            If the chunk is missing, truncated, unreadable or fails its checksum.
        """
        what = f"chunk {self.prefix}{stream}[{i}, {j}]"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                element = self._array(stream, "r")[i : i + 1, j : j + 1][0, 0]
        except PermissionError as exc:
            raise ContainerError(
                f"{what} of {self.root!r} cannot be read (permission denied); check the "
                f"container's permissions"
            ) from exc
        except Exception as exc:  # zarr / numcodecs raise many types for broken framing
            raise ContainerError(
                f"{what} is missing or truncated ({type(exc).__name__}); the container is "
                f"corrupt, re-encode it"
            ) from exc
        return unframe(bytes(element), what)

    @staticmethod
    def cached(root: str | None = None) -> int:
        """Open array handles cached in this process (of ``root``, or of all containers)."""
        with _LOCK:
            return sum(1 for k in _CACHE if root is None or k[1] == os.fspath(root))

    @staticmethod
    def forget(root: str) -> None:
        """Drop cached array handles of ``root`` in this process."""
        with _LOCK:
            for key in [k for k in _CACHE if k[1] == os.fspath(root)]:
                del _CACHE[key]
