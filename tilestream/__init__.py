"""tilestream: block-wise learned image compression identical to full-image inference.

Public API
----------
blockwise(module, x, block, *, device=None)
    ``module(x)`` computed one output block at a time with the minimal overlap.
overlap(model, *, quality=None)
    Per-transform halos and per-layer overlaps of a CompressAI model.

Heavy imports (torch, compressai) happen on first use, so ``tilestream.geometry`` stays
importable on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tilestream.errors import TilestreamError

__version__ = "0.1.0"
__all__ = ["TilestreamError", "__version__", "blockwise", "overlap"]

if TYPE_CHECKING:  # pragma: no cover
    from tilestream.execute.blockwise import blockwise
    from tilestream.overlap import overlap


def __getattr__(name: str) -> Any:
    if name == "blockwise":
        from tilestream.execute.blockwise import blockwise

        return blockwise
    if name == "overlap":
        from tilestream.overlap import overlap

        return overlap
    raise AttributeError(f"module 'tilestream' has no attribute {name!r}")
