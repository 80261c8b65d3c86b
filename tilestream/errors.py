"""The exception hierarchy of tilestream.

Every error that a user can cause derives from :class:`TilestreamError`, itself a
``ValueError``, so callers can catch one type. Messages state the offending value,
what was expected, and how to fix it, on one line.
"""

from __future__ import annotations

__all__ = [
    "TilestreamError",
    "GeometryError",
    "UnsupportedModuleError",
    "UnknownModelError",
]


class TilestreamError(ValueError):
    """Base class of all user-facing tilestream errors."""


class GeometryError(TilestreamError):
    """A window, block or layer geometry is invalid (sizes, strides, blocks)."""


class UnsupportedModuleError(TilestreamError):
    """A module contains an operation that cannot be computed block by block."""


class UnknownModelError(TilestreamError):
    """A model name or quality is not known."""
