"""Sinks: where decoded blocks go. Blocks arrive in row-major block order.

Every sink writes to a temporary name next to the target and moves it into place only when
the last block is written, so an interrupted decode never leaves an output that looks
complete.
"""

from __future__ import annotations

import os
import base64
import shutil
import struct
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.geometry import Window
from tilestream.io import geotiff
from tilestream.io.geotiff import extratags
from tilestream.pixels import PixelFormat
from tilestream.storage import Location

__all__ = ["FORMATS", "CogSink", "OmeTiffSink", "OmeZarrSink", "Sink", "TiffSink", "ZarrSink", "output_format", "prepare_output", "sink_for"]

#: output formats (``--format``); ``auto``: ``tiff`` for ``*.tif`` / ``*.tiff`` (``cog`` with
#: overviews), ``zarr`` otherwise (``ome-zarr`` with overviews)
FORMATS = ("auto", "tiff", "cog", "ome-tiff", "zarr", "ome-zarr")


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
            _replace(self.tmp, self.path)
            return
        self.location.remove()
        self.location.put_file(self.tmp)

    @property
    def journal_location(self) -> Location:
        """The folder of a resumable sink's journal (see :mod:`tilestream.pipeline.journal`)."""
        return Location.of(self.tmp) if self.location.is_local else self.location

    def _discard(self) -> None:
        _remove(self.tmp)

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


class TiffSink(Sink):
    """A tiled BigTIFF, pixel-interleaved, or band-interleaved (``PlanarConfiguration``
    separate) for a source stored band by band (``layout="SYX"``), with the source's
    GeoTIFF tags (``geotiff``: see :mod:`tilestream.io.geotiff`).

    The file is laid out first, uncompressed, with the place of every tile fixed (the data
    area is left sparse); each block's tile (one per band when band-interleaved) is then
    written into its place as the blocks arrive. A local TIFF can therefore be continued
    (``decode --resume``); a remote one is assembled on local disk and uploaded whole, and
    cannot.
    """

    def __init__(
        self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        layout: str = "YXS",
    ):
        self.resumable = Location.of(path).is_local
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = geotiff or {}
        self.planar = layout == "SYX" and pixel_format.channels > 1
        self._fh: Any = None

    @property
    def journal_location(self) -> Location:
        """The folder of a resumable TIFF's journal (next to the partial file)."""
        return Location.of(f"{self.tmp}.journal")

    def _lay_out(self) -> None:
        import tifffile

        b, fmt = self.block, self.pixel_format
        h, w = self.shape
        shape = (fmt.channels, h, w) if self.planar else fmt.image_shape(h, w)
        planar = "separate" if self.planar else ("contig" if fmt.channels > 1 else None)
        with tifffile.TiffWriter(self.tmp, bigtiff=True) as tif:
            tif.write(
                None, shape=shape, dtype=fmt.dtype, tile=(b, b), photometric=fmt.photometric,
                planarconfig=planar, metadata=None, extratags=extratags(self.geotiff),
            )

    def _flush(self) -> None:
        """Push the tiles written so far to the file (before the journal records them)."""
        if self._fh is not None:
            self._fh.flush()

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        if not (self.resume and os.path.isfile(self.tmp)):
            _remove(self.tmp)
            self._lay_out()
        b, fmt = self.block, self.pixel_format
        h, w = self.shape
        with tifffile.TiffFile(self.tmp) as tif:
            page = tif.pages[0]
            offsets, order = page.dataoffsets, tif.byteorder
        across = -(-w // b)
        per_band = -(-h // b) * across
        dtype = np.dtype(fmt.dtype).newbyteorder(order)
        if self.journal is not None:
            self.journal.flush = self._flush
        with open(self.tmp, "r+b") as fh:
            self._fh = fh
            try:
                for window, data in blocks:
                    index = (window.y.start // b) * across + window.x.start // b
                    if self.planar:
                        for band in range(fmt.channels):
                            tile = np.zeros((b, b), dtype)
                            tile[: data.shape[0], : data.shape[1]] = data[..., band]
                            fh.seek(offsets[band * per_band + index])
                            fh.write(tile.tobytes())
                    else:
                        tile = np.zeros((b, b, fmt.channels), dtype)
                        tile[: data.shape[0], : data.shape[1]] = data
                        fh.seek(offsets[index])
                        fh.write(tile.tobytes())
            finally:
                self._fh = None
        if self.journal is not None:
            self.journal.clear()

    def _discard(self) -> None:
        super()._discard()
        if self.resumable:
            self.journal_location.remove()


class _StoreSink(Sink):
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


def _pyramid(sink: Sink, resampling: str) -> Any:
    """The :class:`~tilestream.io.pyramid.Pyramid` of a sink's image (a bad setting: one line)."""
    from tilestream.io.pyramid import Pyramid

    fmt = sink.pixel_format
    try:
        return Pyramid(sink.shape, fmt.channels, fmt.dtype, sink.block, resampling=resampling, nodata=fmt.nodata)
    except ValueError as exc:
        raise TilestreamError(str(exc)) from exc


class CogSink(Sink):
    """A Cloud-Optimized GeoTIFF (:mod:`tilestream.io.cog`) with internal overviews down to
    one tile, reduced from each block as it arrives (:class:`~tilestream.io.pyramid.Pyramid`),
    tiles compressed with ``compress``, the source's georeferencing kept.
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        compress: str = "deflate", resampling: str = "average", quality: int = 90,
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        if pixel_format.nodata is not None and "42113" not in self.geotiff:
            self.geotiff["42113"] = geotiff_nodata_text(pixel_format.nodata)
        self.compress, self.resampling, self.quality = compress, resampling, quality
        from tilestream.io.cog import _encoder

        _encoder(compress, np.dtype(pixel_format.dtype), pixel_format.channels, quality)  # refuse now, not at the end

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        from tilestream.io.cog import CogWriter

        fmt = self.pixel_format
        pyramid = _pyramid(self, self.resampling)
        writer = CogWriter(
            self.tmp, pyramid.shapes, fmt.channels, fmt.dtype, self.block, fmt.photometric,
            compress=self.compress, geotiff=self.geotiff, quality=self.quality,
        )
        try:
            for window, data in blocks:
                for level, ti, tj, tile in pyramid.add(window.y.start, window.x.start, data):
                    writer.write(level, ti, tj, tile)
            writer.finish()
        except BaseException:
            writer.discard()
            raise


class OmeZarrSink(_StoreSink):
    """An OME-Zarr (NGFF 0.5, zarr v3) multiscale image: a group with arrays ``0 … n`` of
    axes ``(c, y, x)``, each half the one before, reduced from each block as it arrives
    (:class:`~tilestream.io.pyramid.Pyramid`); ``multiscales`` metadata with the axes and
    each level's scale; for a georeferenced source, the CRS and each level's affine
    transform under ``geospatial``. Written like :class:`ZarrSink` (locally under a
    temporary name; on object storage with its ``zarr.json`` documents written last).
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        resampling: str = "average", name: str = "image",
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        self.resampling, self.name = resampling, name

    def _attrs(self, shapes: list[tuple[int, int]]) -> dict[str, Any]:
        fmt = self.pixel_format
        datasets = [
            {"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": [1.0, float(2**k), float(2**k)]}]}
            for k in range(len(shapes))
        ]
        attrs: dict[str, Any] = {"ome": {"version": "0.5", "multiscales": [{
            "name": self.name,
            "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
            "datasets": datasets,
            "type": self.resampling,
            "metadata": {"method": "tilestream.io.pyramid.reduce2", "resampling": self.resampling},
        }]}}
        if fmt.nodata is not None:
            attrs["nodata"] = _fill_attr(fmt.nodata, fmt.dtype) if fmt.nodata == fmt.nodata else "nan"
        transform = geotiff.affine(self.geotiff)
        if transform is not None:
            a, b, c, d, e, f = transform
            attrs["geospatial"] = {
                "crs_wkt": geotiff.crs_text(self.geotiff),
                "epsg": geotiff.epsg(self.geotiff),
                # GDAL order (c, a, b, f, d, e) of each level: pixels twice as large each time
                "geotransform": [[c, a * 2**k, b * 2**k, f, d * 2**k, e * 2**k] for k in range(len(shapes))],
            }
        return attrs

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        fmt = self.pixel_format
        pyramid = _pyramid(self, self.resampling)
        if not self.location.is_local:
            self.location.remove()
        root = zarr.open_group(self._target(), mode="w", zarr_format=3)
        fill = 0 if fmt.nodata is None else fmt.nodata
        arrays = [
            root.create_array(
                str(k), shape=(fmt.channels, h, w), chunks=(1, self.block, self.block), dtype=fmt.dtype,
                dimension_names=("c", "y", "x"), fill_value=fill,
            )
            for k, (h, w) in enumerate(pyramid.shapes)
        ]
        root.attrs.update(self._attrs(pyramid.shapes))
        held = [] if self.location.is_local else self._hold_metadata()
        t = self.block
        for window, data in blocks:
            for level, ti, tj, tile in pyramid.add(window.y.start, window.x.start, data):
                y, x = ti * t, tj * t
                arrays[level][:, y : y + tile.shape[0], x : x + tile.shape[1]] = np.moveaxis(tile, -1, 0)
        self._release_metadata(held)


class OmeTiffSink(Sink):
    """A pyramidal OME-TIFF (BigTIFF): level 0 tiled, the reduced levels in its SubIFDs, as
    whole-slide viewers and ``tifffile`` read multiscale series.

    Level 0 is written tile by tile as blocks arrive; the reduced levels
    (:class:`~tilestream.io.pyramid.Pyramid`) go to temporary files next to the output
    (a third of level 0's size in all, uncompressed) and are appended after it.
    ``compress`` applies to every level (``none``, ``deflate``, ``zstd``, ``lzw``, ``jpeg``).
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        compress: str = "deflate", resampling: str = "average",
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        self.compress, self.resampling = compress, resampling
        _tiff_compression(compress, pixel_format)  # refuse now, not at the end

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        fmt, b = self.pixel_format, self.block
        pyramid = _pyramid(self, self.resampling)
        names = [f"{self.tmp}.level-{k}" for k in range(1, pyramid.levels + 1)]
        levels = [
            np.lib.format.open_memmap(name, mode="w+", dtype=fmt.dtype, shape=(h, w, fmt.channels))
            for name, (h, w) in zip(names, pyramid.shapes[1:])
        ]

        def level0() -> Iterator[np.ndarray]:
            for window, data in blocks:
                # the reduced tiles first: the writer stops pulling after the last level-0 tile
                tiles = list(pyramid.add(window.y.start, window.x.start, data))
                for level, ti, tj, tile in tiles[1:]:
                    levels[level - 1][ti * b : ti * b + tile.shape[0], tj * b : tj * b + tile.shape[1]] = tile
                out = np.zeros((b, b, fmt.channels), fmt.dtype)
                out[: data.shape[0], : data.shape[1]] = data
                yield fmt.squeeze(out)

        def tiles(level: np.ndarray) -> Iterator[np.ndarray]:
            h, w = level.shape[:2]
            for y in range(0, h, b):
                for x in range(0, w, b):
                    out = np.zeros((b, b, fmt.channels), fmt.dtype)
                    part = level[y : y + b, x : x + b]
                    out[: part.shape[0], : part.shape[1]] = part
                    yield fmt.squeeze(out)

        compression = _tiff_compression(self.compress, fmt)
        common = dict(
            dtype=fmt.dtype, tile=(b, b), photometric=fmt.photometric, compression=compression,
            planarconfig="contig" if fmt.channels > 1 else None,
        )
        try:
            with tifffile.TiffWriter(self.tmp, bigtiff=True, ome=True) as tif:
                tif.write(
                    level0(), shape=fmt.image_shape(*self.shape), subifds=pyramid.levels,
                    metadata={"axes": "YXS" if fmt.channels > 1 else "YX"}, extratags=extratags(self.geotiff), **common,
                )
                for level in levels:
                    tif.write(tiles(level), shape=fmt.image_shape(*level.shape[:2]), subfiletype=1, metadata=None, **common)
        finally:
            levels.clear()  # release the memory maps before their files go
            for name in names:
                if os.path.exists(name):
                    os.remove(name)


def _tiff_compression(compress: str, fmt: PixelFormat) -> Any:
    """tifffile's compression for a ``--compress`` name (checked against the samples)."""
    from tilestream.io.cog import _encoder

    _encoder(compress, np.dtype(fmt.dtype), fmt.channels, 90)  # the same refusals as a COG's
    return None if compress == "none" else compress


def geotiff_nodata_text(value: float) -> str:
    """GDAL_NODATA's text for a nodata value (``"nan"``, ``"-9999"``, ``"0.5"``)."""
    if value != value:
        return "nan"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ZarrSink(_StoreSink):
    """A zarr v3 array chunked by block: ``(H, W, C)`` or, for a source stored band by band
    (``layout="SYX"``), ``(C, H, W)``; ``(H, W)`` for one band.

    With georeferencing (``geotiff`` tags with a transform), the output is a zarr group laid
    out as xarray and rioxarray write rasters: the array ``image`` (``grid_mapping``
    ``spatial_ref``; nodata as ``_FillValue``), pixel-centre coordinates ``y`` / ``x``, ``band``
    and a ``spatial_ref`` variable with the CRS (``crs_wkt``) and GDAL's ``GeoTransform``,
    with consolidated metadata: ``xarray.open_zarr(path)`` opens it and ``da.rio.crs`` /
    ``da.rio.transform()`` find the georeferencing.
    """

    #: the data variable of a georeferenced (group) output
    VARIABLE = "image"
    resumable = True

    def __init__(
        self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, layout: str = "YXS",
        geotiff: dict | None = None,
    ):
        super().__init__(path, shape, pixel_format, block)
        self.bands_first = layout == "SYX" and pixel_format.channels > 1
        self.geotiff = geotiff or {}

    def _dims(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
        fmt = self.pixel_format
        shape, chunks = fmt.image_shape(*self.shape), fmt.image_shape(self.block, self.block)
        if self.bands_first:
            shape, chunks = (shape[2], *shape[:2]), (chunks[2], *chunks[:2])
        dims = ("band", "y", "x") if self.bands_first else ("y", "x", "band")[: len(shape)]
        return shape, chunks, dims

    def _open(self, target: Any) -> Any:
        """The array of a local partial output (resumed)."""
        import zarr

        if geotiff.affine(self.geotiff) is None:
            return zarr.open_array(target, mode="r+", zarr_format=3)
        return zarr.open_group(target, mode="r+", zarr_format=3)[self.VARIABLE]

    def _create(self, target: Any) -> Any:
        """Create the array (and a georeferenced output's group); resuming a remote output,
        over the chunks already there (its metadata was held back, so none is found)."""
        import zarr

        fmt = self.pixel_format
        shape, chunks, dims = self._dims()
        transform = geotiff.affine(self.geotiff)
        if transform is None:
            return zarr.create_array(target, shape=shape, chunks=chunks, dtype=fmt.dtype, zarr_format=3, dimension_names=dims)
        root = zarr.open_group(target, mode="a" if self.resume else "w", zarr_format=3)
        fill = 0 if fmt.nodata is None else fmt.nodata
        arr = root.create_array(self.VARIABLE, shape=shape, chunks=chunks, dtype=fmt.dtype, dimension_names=dims, fill_value=fill)
        attrs: dict[str, Any] = {"grid_mapping": "spatial_ref", "coordinates": "spatial_ref"}
        if fmt.nodata is not None:
            attrs["_FillValue"] = _fill_attr(fmt.nodata, fmt.dtype)
        arr.attrs.update(attrs)
        a, b, c, d, e, f = transform
        h, w = self.shape
        coords = {"y": e * (np.arange(h) + 0.5) + f, "x": a * (np.arange(w) + 0.5) + c} if b == 0 and d == 0 else {
            "y": np.arange(h, dtype=np.float64), "x": np.arange(w, dtype=np.float64)}
        if "band" in dims:
            coords["band"] = np.arange(1, fmt.channels + 1)
        for name, values in coords.items():
            coord = root.create_array(name, shape=values.shape, dtype=values.dtype, dimension_names=(name,))
            coord[:] = values
        ref = root.create_array("spatial_ref", shape=(), dtype="int64", dimension_names=())
        ref[...] = 0
        wkt = geotiff.crs_text(self.geotiff)
        ref.attrs.update({
            **({"crs_wkt": wkt, "spatial_ref": wkt} if wkt else {}),
            "GeoTransform": " ".join(repr(float(v)) for v in (c, a, b, f, d, e)),
        })
        return arr

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        fmt = self.pixel_format
        if not self.resume:  # an overwritten output, or a partial one not continued
            if self.location.is_local:
                _remove(self.tmp)
            else:
                self.location.remove()
        target = self._target()
        arr = self._open(target) if self.resume and self.location.is_local else self._create(target)
        held = [] if self.location.is_local else self._hold_metadata()
        for window, data in blocks:
            ys, xs = window.to_slices()
            if self.bands_first:
                arr[:, ys, xs] = np.moveaxis(data, -1, 0)
            else:
                arr[ys, xs] = fmt.squeeze(data)
        if self.journal is not None:
            self.journal.clear()  # before the output opens as an array
        self._release_metadata(held)
        if geotiff.affine(self.geotiff) is not None:  # what xarray.open_zarr looks for first
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
                zarr.consolidate_metadata(self._target() if held else target)


def _fill_attr(value: float, dtype: str) -> int | str:
    """``_FillValue`` as xarray writes it in zarr attributes: an integer, or for float
    samples the base64 of its little-endian float64 (which also holds NaN)."""
    if np.dtype(dtype).kind == "f":
        return base64.standard_b64encode(struct.pack("<d", float(value))).decode()
    return int(value)


def output_format(path: Any, fmt: str = "auto", overviews: bool = False) -> str:
    """The output format for ``path``: ``fmt``, or with ``"auto"`` from its name.

    Raises
    ------
    TilestreamError
        For an unknown format, or one whose file name does not fit it.
    """
    if fmt not in FORMATS:
        raise TilestreamError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}; choose one of those")
    is_tif = str(path).lower().endswith((".tif", ".tiff"))
    if fmt == "auto":
        if is_tif and overviews and str(path).lower().endswith((".ome.tif", ".ome.tiff")):
            return "ome-tiff"
        return ("cog" if overviews else "tiff") if is_tif else ("ome-zarr" if overviews else "zarr")
    if fmt in ("tiff", "cog", "ome-tiff") and not is_tif:
        raise TilestreamError(f"--format {fmt} writes a TIFF file: name the output *.tif, not {str(path)!r}")
    if fmt in ("zarr", "ome-zarr") and is_tif:
        raise TilestreamError(f"--format {fmt} writes a zarr store: name the output without .tif, not {str(path)!r}")
    if overviews and fmt == "tiff":
        raise TilestreamError("--overviews with a TIFF output writes a Cloud-Optimized GeoTIFF: use --format cog (or auto)")
    if overviews and fmt == "zarr":
        raise TilestreamError("--overviews with a zarr output writes an OME-Zarr multiscale image: use --format ome-zarr (or auto)")
    return fmt


def sink_for(
    path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, layout: str = "YXS",
    metadata: dict | None = None, fmt: str = "auto", compress: str = "deflate", resampling: str = "average",
    overviews: bool = False,
) -> Sink:
    """A :class:`TiffSink` for ``*.tif`` / ``*.tiff`` (pixel- or band-interleaved as the
    source's ``layout``; with the source's GeoTIFF tags from ``metadata``), a
    :class:`CogSink` for ``fmt="cog"`` (or a ``.tif`` with ``overviews``), an
    :class:`OmeZarrSink` for ``fmt="ome-zarr"`` (or another name with ``overviews``), otherwise a
    :class:`ZarrSink` in the source's axis order ``layout`` (an xarray-style group when
    georeferenced)."""
    tags = (metadata or {}).get("geotiff")
    kind = output_format(path, fmt, overviews)
    if kind == "cog":
        return CogSink(path, shape, pixel_format, block, tags, compress=compress, resampling=resampling)
    if kind == "tiff":
        return TiffSink(path, shape, pixel_format, block, tags, layout)
    if kind == "ome-tiff":
        return OmeTiffSink(path, shape, pixel_format, block, tags, compress=compress, resampling=resampling)
    if kind == "ome-zarr":
        return OmeZarrSink(path, shape, pixel_format, block, tags, resampling=resampling)
    return ZarrSink(path, shape, pixel_format, block, layout, tags)
