"""The block layout of a coded image: one block grid seen at three resolutions.

An image of ``image_shape`` is treated as padded (bottom and right, by replicating the
last row / column) to ``padded_shape``, a multiple of ``align``. Blocks of ``block`` pixels
tile the padded image; the same grid, divided by the latent factor (16) and the hyper
factor (4 more), tiles ``y`` and ``z``. Chunk ``(i, j)`` of every stream belongs to block
``(i, j)``.

>>> lay = CodecLayout((100, 300), block=128)
>>> lay.padded_shape, lay.y_shape, lay.z_shape, lay.grid_shape
((128, 320), (8, 20), (2, 5), (1, 3))
>>> lay.y_window(0, 2)
Window(y=Interval(start=0, stop=8), x=Interval(start=16, stop=20))
"""

from __future__ import annotations

from dataclasses import dataclass

from tilestream.errors import GeometryError
from tilestream.geometry.axis import ceildiv
from tilestream.geometry.grid import BlockGrid
from tilestream.geometry.interval import Window

__all__ = ["CodecLayout"]


@dataclass(frozen=True)
class CodecLayout:
    """Block grid of an image, its latent ``y`` and its hyper-latent ``z``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width)`` of the real image.
    block : int
        Block side in pixels; a multiple of ``align``.
    align : int
        Padding alignment: 64 for hyperprior models (16 · 4), 16 for a factorized prior.
    latent_factor, hyper_factor : int
        Downsampling of ``g_a`` (16) and of ``h_a`` (4).
    """

    image_shape: tuple[int, int]
    block: int
    align: int = 64
    latent_factor: int = 16
    hyper_factor: int = 4

    def __post_init__(self) -> None:
        h, w = self.image_shape
        for name, value in (("image height", h), ("image width", w)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GeometryError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.block, bool) or not isinstance(self.block, int) or self.block < 1:
            raise GeometryError(f"block must be a positive int, got {self.block!r}")
        if self.block % self.align:
            raise GeometryError(
                f"block {self.block} px is not a multiple of {self.align}; use e.g. "
                f"{max(self.align, self.block // self.align * self.align)}"
            )

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Image shape rounded up to ``align``."""
        a = self.align
        return (ceildiv(self.image_shape[0], a) * a, ceildiv(self.image_shape[1], a) * a)

    @property
    def y_shape(self) -> tuple[int, int]:
        """Spatial shape of ``y``."""
        f = self.latent_factor
        return (self.padded_shape[0] // f, self.padded_shape[1] // f)

    @property
    def z_shape(self) -> tuple[int, int]:
        """Spatial shape of ``z``."""
        f = self.hyper_factor
        return (ceildiv(self.y_shape[0], f), ceildiv(self.y_shape[1], f))

    @property
    def image_grid(self) -> BlockGrid:
        """Blocks over the padded image."""
        return BlockGrid(self.padded_shape, (self.block, self.block))

    @property
    def y_grid(self) -> BlockGrid:
        """Chunks of ``y`` (``block / 16`` samples)."""
        b = self.block // self.latent_factor
        return BlockGrid(self.y_shape, (b, b))

    @property
    def z_grid(self) -> BlockGrid:
        """Chunks of ``z`` (``block / 64`` samples)."""
        b = max(1, self.block // (self.latent_factor * self.hyper_factor))
        return BlockGrid(self.z_shape, (b, b))

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Rows and columns of blocks (the same for every stream)."""
        return self.image_grid.grid_shape

    def image_window(self, i: int, j: int) -> Window:
        """Block ``(i, j)`` in padded-image pixels."""
        return self.image_grid.window(i, j)

    def y_window(self, i: int, j: int) -> Window:
        """Chunk ``(i, j)`` of ``y``."""
        return self.y_grid.window(i, j)

    def z_window(self, i: int, j: int) -> Window:
        """Chunk ``(i, j)`` of ``z``."""
        return self.z_grid.window(i, j)
