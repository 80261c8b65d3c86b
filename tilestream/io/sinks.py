"""Sinks: where decoded blocks go. Blocks arrive in row-major block order.

Every sink writes to a temporary name next to the target and moves it into place only when
the last block is written, so an interrupted decode never leaves an output that looks
complete.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.geometry import Window

__all__ = ["Sink", "TiffSink", "ZarrSink", "prepare_output"]


def prepare_output(path: str, overwrite: bool) -> None:
    """Refuse an existing ``path`` unless ``overwrite``; check its folder exists."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise TilestreamError(f"output folder {parent!r} does not exist; create it first")
    if os.path.lexists(path) and not overwrite:
        raise TilestreamError(f"output {path!r} already exists; pass --overwrite to replace it")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _replace(tmp: str, path: str) -> None:
    if os.path.lexists(path):
        _remove(path)
    os.replace(tmp, path)


class Sink(ABC):
    """Consumes ``(window, block)`` pairs of a ``shape`` image, row-major, then commits."""

    def __init__(self, path: str, shape: tuple[int, int], channels: int, block: int):
        self.path = os.fspath(path)
        self.shape = shape
        self.channels = channels
        self.block = block
        self.tmp = f"{self.path}.partial-{os.getpid()}"

    @abstractmethod
    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        """Write all blocks to ``self.tmp``."""

    def consume(self, blocks: Iterable[tuple[Window, np.ndarray]]) -> None:
        """Write every block, then move the result into place (removing it on failure)."""
        try:
            self._write(iter(blocks))
        except BaseException:
            _remove(self.tmp)
            raise
        _replace(self.tmp, self.path)


class TiffSink(Sink):
    """A tiled BigTIFF written tile by tile (tifffile with a tile iterator)."""

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        b, c = self.block, self.channels

        def tiles() -> Iterator[np.ndarray]:
            for _, data in blocks:
                tile = np.zeros((b, b, c), np.uint8)
                tile[: data.shape[0], : data.shape[1]] = data.reshape(data.shape[0], data.shape[1], c)
                yield tile if c == 3 else tile[:, :, 0]

        shape = (*self.shape, 3) if c == 3 else self.shape
        with tifffile.TiffWriter(self.tmp, bigtiff=True) as tif:
            tif.write(
                tiles(),
                shape=shape,
                dtype=np.uint8,
                tile=(b, b),
                photometric="rgb" if c == 3 else "minisblack",
                metadata=None,
            )


class ZarrSink(Sink):
    """A zarr v3 array ``(H, W, 3)`` or ``(H, W)`` chunked by block."""

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        c = self.channels
        shape = (*self.shape, 3) if c == 3 else self.shape
        chunks = (self.block, self.block, 3) if c == 3 else (self.block, self.block)
        arr = zarr.create_array(self.tmp, shape=shape, chunks=chunks, dtype="uint8", zarr_format=3)
        for window, data in blocks:
            ys, xs = window.to_slices()
            arr[ys, xs] = data if c == 3 else data[..., 0]
