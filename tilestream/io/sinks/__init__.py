"""Sinks: where decoded blocks go, one format per module. Blocks arrive in row-major block
order.

Every sink writes to a temporary name next to the target and moves it into place only when
the last block is written, so an interrupted decode never leaves an output that looks
complete (:class:`~tilestream.io.sinks.base.Sink`). This module chooses the sink for an
output (:func:`sink_for`).
"""

from __future__ import annotations

from typing import Any

from tilestream.errors import TilestreamError
from tilestream.io.sinks.base import Sink, StoreSink, prepare_output
from tilestream.io.sinks.cog import CogSink, geotiff_nodata_text
from tilestream.io.sinks.ome_tiff import OmeTiffSink
from tilestream.io.sinks.ome_zarr import OmeZarrSink
from tilestream.io.sinks.tiff import TiffSink
from tilestream.io.sinks.zarr_array import ZarrSink
from tilestream.pixels import PixelFormat

__all__ = [
    "FORMATS", "CogSink", "OmeTiffSink", "OmeZarrSink", "Sink", "StoreSink", "TiffSink", "ZarrSink",
    "geotiff_nodata_text", "output_format", "prepare_output", "sink_for",
]

#: output formats (``--format``); ``auto``: ``tiff`` for ``*.tif`` / ``*.tiff`` (``cog`` with
#: overviews), ``zarr`` otherwise (``ome-zarr`` with overviews)
FORMATS = ("auto", "tiff", "cog", "ome-tiff", "zarr", "ome-zarr")


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
