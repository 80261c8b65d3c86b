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
from tilestream.storage import Location

__all__ = ["ChunkStore", "frame", "unframe", "vlen_bytes_dtype"]

#: open array handles, least recently used first; bounded, so that a long-lived process
#: opening many containers does not keep every handle
_CACHE: OrderedDict[tuple[int, str, str, tuple[int, int], str], Any] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def vlen_bytes_dtype() -> Any:
    """zarr's variable-length bytes data type (its "no v3 spec yet" warning silenced)."""
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.dtype.VariableLengthBytes()


def _seed(label: str) -> int:
    return zlib.crc32(label.encode())


def frame(data: bytes, label: str | None = None) -> bytes:
    """Prefix ``data`` with its CRC-32, seeded with the chunk's ``label`` (``"b1/y[3, 4]"``:
    stream and position, format 1.4 ``checksum: "crc32-pos"``) when given, so that a chunk
    moved to another position or stream fails its checksum."""
    return struct.pack("<I", zlib.crc32(data, _seed(label) if label else 0)) + data


def unframe(element: bytes, what: str, label: str | None = None) -> bytes:
    """Strip and verify the CRC-32 prefix of a stored element (seeded with ``label``, or
    plain as in containers before 1.4)."""
    if len(element) < 4:
        raise ContainerError(f"{what} is missing or truncated; the container is corrupt, re-encode it")
    (expected,) = struct.unpack("<I", element[:4])
    data = element[4:]
    crc = zlib.crc32(data)
    if crc != expected and (label is None or zlib.crc32(data, _seed(label)) != expected):
        raise ContainerError(
            f"{what} fails its CRC-32 checksum (damaged, or moved from another position); "
            f"the container is corrupt, re-encode it"
        )
    return data


def _element(arr: Any, i: int, j: int, what: str) -> bytes:
    """The stored element ``(i, j)`` of a ``(1, 1)``-chunked variable-length bytes array,
    read as raw bytes and parsed here (a damaged length header must not make numcodecs
    allocate gigabytes); ``b""`` for a missing chunk."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    async_array = arr.async_array
    key = async_array.metadata.encode_chunk_key((i, j))
    buf = sync((async_array.store_path / key).get(prototype=default_buffer_prototype()))
    if buf is None:
        return b""
    raw = buf.to_bytes()
    if len(raw) < 8:
        raise ContainerError(f"{what} is truncated ({len(raw)} bytes); the container is corrupt, re-encode it")
    count, size = struct.unpack("<II", raw[:8])
    if count != 1 or size != len(raw) - 8:
        raise ContainerError(
            f"{what} has a damaged or truncated header ({count} element(s) of {size} bytes in "
            f"{len(raw) - 8}); the container is corrupt, re-encode it"
        )
    return raw[8:]


class ChunkStore:
    """Reads and writes framed chunk bytes of a container at ``root`` (a folder, a ``.zip``
    file (read only), or a :class:`~tilestream.storage.Location` on any fsspec storage).

    Picklable: workers reopen the arrays themselves.
    """

    def __init__(self, root: str | os.PathLike[str] | Location, prefix: str = ""):
        self.location = Location.of(root)
        self.root = self.location.url
        #: prepended to stream names (the streams of one band group: ``"b1/"``)
        self.prefix = prefix

    def _open(self, stream: str, mode: str) -> Any:
        import zarr

        if not self.location.is_local:
            return zarr.open_array(self.location.join(stream).zarr_store(read_only=mode == "r"), mode=mode)
        if os.path.isfile(self.root):  # a committed .zip container
            from zarr.storage import ZipStore

            return zarr.open_array(ZipStore(self.root, mode="r"), path=stream, mode="r")
        return zarr.open_array(os.path.join(self.root, stream), mode=mode)

    def _array(self, stream: str, mode: str) -> Any:
        stream = self.prefix + stream
        identity: tuple[int, int] = (0, 0)
        if self.location.is_local:
            try:  # a container replaced on disk (overwrite) must not be read through old handles
                st = os.stat(self.root)
                identity = (st.st_ino, st.st_mtime_ns)
            except OSError:
                pass
        key = (os.getpid(), self.root, stream, identity, mode)
        with _LOCK:
            arr = _CACHE.get(key)
            if arr is not None:
                _CACHE.move_to_end(key)
            if arr is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arr = self._open(stream, mode)
                _CACHE[key] = arr
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
        return arr

    def write(self, stream: str, i: int, j: int, data: bytes) -> int:
        """Store the bytes of chunk ``(i, j)`` of ``stream``; return the stored size."""
        element = np.empty((1, 1), dtype=object)
        element[0, 0] = frame(data, f"{self.prefix}{stream}[{i}, {j}]")
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
        label = f"{self.prefix}{stream}[{i}, {j}]"
        what = f"chunk {label}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = self._array(stream, "r")
        except PermissionError as exc:
            raise ContainerError(
                f"{what} of {self.root!r} cannot be read (permission denied); check the "
                f"container's permissions"
            ) from exc
        except Exception as exc:  # zarr raises many types for a missing or broken zarr.json
            raise ContainerError(
                f"{what}: the metadata of stream {self.prefix}{stream} ({self.prefix}{stream}/zarr.json) "
                f"is missing or damaged ({type(exc).__name__}); the container is corrupt, re-encode it"
            ) from exc
        try:
            element = _element(arr, i, j, what)
        except ContainerError:
            raise
        except PermissionError as exc:
            raise ContainerError(
                f"{what} of {self.root!r} cannot be read (permission denied); check the "
                f"container's permissions"
            ) from exc
        except Exception as exc:  # a chunk key the store cannot hold, an unreadable file
            raise ContainerError(
                f"{what} is missing or unreadable ({type(exc).__name__}); the container is "
                f"corrupt, re-encode it"
            ) from exc
        return unframe(element, what, label)

    @staticmethod
    def cached(root: str | os.PathLike[str] | Location | None = None) -> int:
        """Open array handles cached in this process (of ``root``, or of all containers)."""
        with _LOCK:
            return sum(1 for k in _CACHE if root is None or k[1] == Location.of(root).url)

    @staticmethod
    def forget(root: str | os.PathLike[str] | Location) -> None:
        """Drop cached array handles of ``root`` in this process."""
        with _LOCK:
            for key in [k for k in _CACHE if k[1] == Location.of(root).url]:
                del _CACHE[key]
