"""tilestream: block-wise learned image compression identical to full-image inference.

Public API
----------
encode(source, output, *, model, ...)
    Compress a TIFF, zarr or array image block by block into a container.
decode(container, output, ...)
    Decode a container into a tiled BigTIFF or a zarr array.
open(path, ...)
    A coded image sliced like an array: ``img[y0:y1, x0:x1]`` decodes only that region.
blockwise(module, x, block, *, device=None)
    ``module(x)`` computed one output block at a time with the minimal overlap.
overlap(model, *, quality=None)
    Per-transform halos and per-layer overlaps of a CompressAI model.
verify(path)
    Check every chunk's checksum of a container without decoding (a report of the damage).

Heavy imports (torch, compressai) happen on first use, so ``tilestream.geometry`` stays
importable on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tilestream.errors import TilestreamError

__version__ = "0.1.0"
__all__ = ["TilestreamError", "__version__", "blockwise", "decode", "encode", "open", "overlap", "verify"]

if TYPE_CHECKING:  # pragma: no cover
    from tilestream.execute.blockwise import blockwise
    from tilestream.image import open_image as open
    from tilestream.container.verify import verify
    from tilestream.overlap import overlap
    from tilestream.pipeline import decode, encode


def __getattr__(name: str) -> Any:
    if name == "blockwise":
        from tilestream.execute.blockwise import blockwise

        return blockwise
    if name == "overlap":
        from tilestream.overlap import overlap

        return overlap
    if name in ("encode", "decode"):
        from tilestream import pipeline

        return getattr(pipeline, name)
    if name == "verify":
        from tilestream.container.verify import verify

        return verify
    if name == "open":
        from tilestream.image import open_image

        return open_image
    raise AttributeError(f"module 'tilestream' has no attribute {name!r}")
