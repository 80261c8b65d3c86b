"""Sources (TIFF, zarr, arrays) and sinks (tiled BigTIFF, zarr): the edges where pixels
enter and leave, normalised once into a :class:`~tilestream.pixels.PixelFormat`."""

from tilestream.io.base import Source, SourceError
from tilestream.io.open import open_source
from tilestream.io.sinks import Sink, TiffSink, ZarrSink, prepare_output, sink_for

__all__ = ["Sink", "Source", "SourceError", "TiffSink", "ZarrSink", "open_source", "prepare_output", "sink_for"]
