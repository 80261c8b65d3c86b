"""The sink contract: where decoded blocks go, written under a temporary name and moved
into place only when the last block is written, so that an interrupted decode never leaves an
output that looks complete; and what the zarr and pyramid sinks share."""

from __future__ import annotations

import base64
import os
import shutil
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.geometry import Window
from tilestream.pixels import PixelFormat
from tilestream.storage import Location

__all__ = ["Sink", "StoreSink", "fill_attr", "prepare_output", "pyramid_of", "remove_path", "replace_path"]


def prepare_output(path: Any, overwrite: bool, storage_options: dict[str, Any] | None = None) -> Location:
    """Refuse an existing output unless ``overwrite``; check its folder (or bucket) exists.

    Returns
    -------
    Location
        The output, normalised.
    """
    location = Location.of(path, storage_options)
    if location.is_local:
        parent = os.path.dirname(os.path.abspath(location.url))
        if not os.path.isdir(parent):
            if os.path.exists(parent):
                raise TilestreamError(f"output folder {parent!r} is a file, not a folder; choose an output path in a folder")
            raise TilestreamError(f"output folder {parent!r} does not exist; create it first")
    elif location.protocol in ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"):
        bucket = location.path.split("/", 1)[0]
        try:  # exists() would say False for storage it cannot reach: list the bucket instead
            location._call("reach", location.fs().ls, bucket)
        except FileNotFoundError:
            raise TilestreamError(
                f"output {location.url!r}: bucket / root {bucket!r} does not exist on {location.protocol}; create it first"
            )
    if location.exists() and not overwrite:
        raise TilestreamError(f"output {location.url!r} already exists; pass --overwrite to replace it")
    return location


def remove_path(path: str) -> None:
    """Remove a file or a folder (a missing one is fine)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def replace_path(tmp: str, path: str) -> None:
    """Move ``tmp`` to ``path``, removing what ``path`` held."""
    if os.path.lexists(path):
        remove_path(path)
    os.replace(tmp, path)


class Sink(ABC):
    """Consumes ``(window, (h, w, C) samples)`` pairs of a ``shape`` image, row-major, then
    commits. Samples and the written image follow the :class:`PixelFormat`.

    The output is a local path or a :class:`~tilestream.storage.Location` on any fsspec
    storage. Locally it is written under ``PATH.partial-PID`` and moved into place when
    complete. On object storage a TIFF is written to a local temporary file and uploaded
    when complete (one object appears whole or not at all); a zarr output is written in
    place with its ``zarr.json`` documents held back and written last (root last), so that
    nothing opens it as an array before every chunk is there.
    """

    #: a kept partial output can be continued (``decode --resume``): it is written under
    #: ``PATH.partial`` (no process id) and kept when the decode is interrupted
    resumable = False
    #: write in a thread of its own while the next blocks are decoded
    #: (:func:`~tilestream.io.background.feed`); for sinks with work per block and no
    #: journal (a journal records a step as written once its blocks are consumed)
    background = False

    def __init__(self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int):
        self.location = Location.of(path)
        self.path = self.location.url
        self.shape = shape
        self.pixel_format = pixel_format
        self.block = block
        #: continue the partial output (set before :meth:`consume`; resumable sinks only)
        self.resume = False
        #: a :class:`~tilestream.pipeline.journal.Journal` that a resumable sink clears
        #: when every block is written, before the output can be opened
        self.journal: Any = None
        if self.location.is_local:
            self.tmp = f"{self.path}.partial" if self.resumable else f"{self.path}.partial-{os.getpid()}"
        else:
            import tempfile

            self._tmpdir = tempfile.mkdtemp(prefix="tilestream-")
            self.tmp = os.path.join(self._tmpdir, self.location.name())

    @abstractmethod
    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        """Write all blocks to ``self.tmp``."""

    def _publish(self) -> None:
        """Move the finished ``self.tmp`` into place."""
        if self.location.is_local:
            replace_path(self.tmp, self.path)
            return
        self.location.remove()
        self.location.put_file(self.tmp)

    @property
    def journal_location(self) -> Location:
        """The folder of a resumable sink's journal (see :mod:`tilestream.pipeline.journal`)."""
        return Location.of(self.tmp) if self.location.is_local else self.location

    def _discard(self) -> None:
        remove_path(self.tmp)

    def consume(self, blocks: Iterable[tuple[Window, np.ndarray]]) -> None:
        """Write every block, then move the result into place (removing it on failure;
        a resumable sink keeps it when interrupted)."""
        try:
            if self.background:
                from tilestream.io.background import feed

                feed(self._write, blocks, depth=2 * -(-self.shape[1] // self.block))  # two rows of blocks
            else:
                self._write(iter(blocks))
            self._publish()
        except KeyboardInterrupt:
            if not self.resumable:
                self._discard()
            raise
        except BaseException:
            self._discard()
            raise
        finally:
            if not self.location.is_local:
                shutil.rmtree(self._tmpdir, ignore_errors=True)


class StoreSink(Sink):
    """A sink writing a zarr store: locally under a temporary name moved into place, on
    object storage in place, with its ``zarr.json`` documents held back until every chunk
    is written (see :meth:`_hold_metadata`)."""

    def _target(self) -> Any:
        """Where the array is written: the local temporary path, or the remote store itself."""
        return self.tmp if self.location.is_local else self.location.zarr_store(read_only=False)

    def _publish(self) -> None:
        if self.location.is_local:
            super()._publish()

    def _discard(self) -> None:
        if self.location.is_local:
            super()._discard()
        else:
            self.location.remove()

    def _hold_metadata(self) -> list[tuple[str, bytes]]:
        """Remove the remote output's ``zarr.json`` documents; return them, root last."""
        fs = self.location.fs()
        fs.invalidate_cache()
        root = self.location.path.rstrip("/")
        held = [(p, fs.cat_file(p)) for p in fs.find(root) if p.rsplit("/", 1)[-1] == "zarr.json"]
        held.sort(key=lambda item: -item[0].count("/"))
        for p, _ in held:
            fs.rm_file(p)
        return held

    def _release_metadata(self, held: list[tuple[str, bytes]]) -> None:
        """Write back the documents of :meth:`_hold_metadata`: every chunk is there."""
        if held:
            fs = self.location.fs()
            for p, doc in held:  # root last
                fs.pipe_file(p, doc)


def pyramid_of(sink: Sink, resampling: str) -> Any:
    """The :class:`~tilestream.io.pyramid.Pyramid` of a sink's image (a bad setting: one line)."""
    from tilestream.io.pyramid import Pyramid

    fmt = sink.pixel_format
    try:
        return Pyramid(sink.shape, fmt.channels, fmt.dtype, sink.block, resampling=resampling, nodata=fmt.nodata)
    except ValueError as exc:
        raise TilestreamError(str(exc)) from exc


def fill_attr(value: float, dtype: str) -> int | str:
    """``_FillValue`` as xarray writes it in zarr attributes: an integer, or for float
    samples the base64 of its little-endian float64 (which also holds NaN)."""
    if np.dtype(dtype).kind == "f":
        return base64.standard_b64encode(struct.pack("<d", float(value))).decode()
    return int(value)
