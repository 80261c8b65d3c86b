"""Pyramids while decoding: each decoded block reduced into every coarser level at once.

Blocks arrive row-major on a grid of ``tile × tile`` blocks. Level ``k`` halves level
``k − 1`` (a pixel is the reduction of a 2 × 2 group of the level below; at an odd edge, of
the pixels there are), so a block's footprint on level ``k`` is the reduction of its own
pixels alone: blocks start at multiples of ``tile`` and ``tile / 2^k`` stays whole down to
``k = log2(tile)``. Each level keeps one strip of ``tile`` rows (its next row of tiles) and
hands out a tile row as soon as the last block it covers has arrived. Memory: about one
tile row per level, whatever the image height.

Reductions: ``"average"`` (the area mean, rounded half up for integer samples),
``"nearest"`` (the top-left pixel of each group) and ``"mode"`` (the most frequent value of
the group, the smallest on ties) for categorical rasters and masks. With a nodata value
(NaN included) only valid pixels are reduced, and a reduced pixel is nodata only where
every one of its inputs is.

Nothing here imports torch or dask.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

__all__ = ["RESAMPLING", "Pyramid", "level_count", "level_shapes", "reduce2"]

#: the reductions offered (``--resampling``)
RESAMPLING = ("average", "nearest", "mode")

Tile = tuple[int, int, int, np.ndarray]  # (level, tile row, tile column, (h, w, C) samples)


def level_count(shape: tuple[int, int], tile: int) -> int:
    """Coarser levels down to one that fits in a single tile (``0``: the image does)."""
    return max(0, math.ceil(math.log2(max(shape) / tile))) if max(shape) > tile else 0


def level_shapes(shape: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """``(height, width)`` of levels ``0 … levels``."""
    out = [tuple(shape)]
    for _ in range(levels):
        h, w = out[-1]
        out.append((-(-h // 2), -(-w // 2)))
    return out  # type: ignore[return-value]


def _invalid(data: np.ndarray, nodata: float | None) -> np.ndarray | None:
    """Pixels (all bands) without data, or ``None`` without a nodata value."""
    if nodata is None:
        return None
    if isinstance(nodata, float) and math.isnan(nodata):
        return np.isnan(data).all(axis=-1) if data.dtype.kind == "f" else np.zeros(data.shape[:2], bool)
    return (data == np.asarray(nodata, dtype=data.dtype)).all(axis=-1)


def _groups(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(h', w', C, 4)`` values of each 2 × 2 group (edge-padded) and ``(h', w', 4)``
    whether each is a real pixel."""
    h, w, c = data.shape
    hh, ww = -(-h // 2), -(-w // 2)
    padded = np.zeros((2 * hh, 2 * ww, c), data.dtype)
    padded[:h, :w] = data
    real = np.zeros((2 * hh, 2 * ww), bool)
    real[:h, :w] = True
    values = padded.reshape(hh, 2, ww, 2, c).transpose(0, 2, 4, 1, 3).reshape(hh, ww, c, 4)
    return values, real.reshape(hh, 2, ww, 2).transpose(0, 2, 1, 3).reshape(hh, ww, 4)


#: a wider integer type that holds the sum of four samples of each integer type
_WIDER = {
    np.dtype(np.uint8): np.uint16, np.dtype(np.int8): np.int16,
    np.dtype(np.uint16): np.uint32, np.dtype(np.int16): np.int32,
    np.dtype(np.uint32): np.uint64, np.dtype(np.int32): np.int64,
}


def _reduce_plain(data: np.ndarray, resampling: str) -> np.ndarray | None:
    """:func:`reduce2` without nodata, on strided views (no grouping copy), or ``None``
    where only the general path applies (mode; the average of an odd-sized block or of
    64-bit integers). The results are the general path's: the integer mean rounded half
    up is ``(sum + 2) // 4``; the float mean sums the group in the same order."""
    if resampling == "nearest":
        return data[::2, ::2].copy()
    h, w = data.shape[:2]
    if resampling != "average" or h % 2 or w % 2:
        return None
    a, b, c, d = data[0::2, 0::2], data[0::2, 1::2], data[1::2, 0::2], data[1::2, 1::2]
    if data.dtype.kind == "f":
        total = a.astype(np.float64)
        total += b
        total += c
        total += d
        total /= 4.0
        return total.astype(data.dtype)
    wide = _WIDER.get(data.dtype)
    if wide is None:
        return None
    total = a.astype(wide)
    total += b
    total += c
    total += d
    total += 2
    total //= 4
    return total.astype(data.dtype)


def reduce2(data: np.ndarray, resampling: str = "average", nodata: float | None = None) -> np.ndarray:
    """Halve ``(h, w, C)`` samples: each output pixel reduces a 2 × 2 group.

    Parameters
    ----------
    data : numpy.ndarray
        ``(h, w, C)`` samples.
    resampling : {"average", "nearest", "mode"}
        How a group is reduced (see the module docstring).
    nodata : float, optional
        Value of pixels without data (all bands); NaN allowed for float samples.

    Returns
    -------
    numpy.ndarray
        ``(ceil(h / 2), ceil(w / 2), C)`` samples of ``data``'s type.
    """
    if resampling not in RESAMPLING:
        raise ValueError(f"resampling {resampling!r} is not one of {', '.join(RESAMPLING)}")
    if nodata is None:
        fast = _reduce_plain(data, resampling)
        if fast is not None:
            return fast
    return _reduce_grouped(data, resampling, nodata)


def _reduce_grouped(data: np.ndarray, resampling: str, nodata: float | None) -> np.ndarray:
    """:func:`reduce2` on the ``(h', w', C, 4)`` groups: every case (nodata, odd edges, mode)."""
    values, real = _groups(data)
    invalid = _invalid(data, nodata)
    if invalid is not None:
        bad, _ = _groups(invalid[..., None])
        real = real & ~bad[:, :, 0, :]
    empty = ~real.any(axis=-1)
    dtype = data.dtype
    if resampling == "nearest":
        first = np.argmax(real, axis=-1)  # the top-left real pixel of the group
        out = np.take_along_axis(values, first[:, :, None, None], axis=-1)[..., 0]
    elif resampling == "average":
        weights = real[:, :, None, :].astype(np.float64)
        total = (values.astype(np.float64) * weights).sum(axis=-1)
        mean = total / np.maximum(weights.sum(axis=-1), 1)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            out = np.clip(np.floor(mean + 0.5), info.min, info.max).astype(dtype)
        else:
            out = mean.astype(dtype)
    else:  # mode: sort each group, count equal real values, keep the first most frequent
        order = np.argsort(np.where(real[:, :, None, :], values, values.max(initial=0)), axis=-1, kind="stable")
        v = np.take_along_axis(values, order, axis=-1)
        r = np.take_along_axis(np.broadcast_to(real[:, :, None, :], values.shape), order, axis=-1)
        same = (v[..., :, None] == v[..., None, :]) & r[..., None, :]
        counts = np.where(r, same.sum(axis=-1), -1)
        out = np.take_along_axis(v, np.argmax(counts, axis=-1)[..., None], axis=-1)[..., 0]
    if invalid is not None and empty.any():
        out[empty] = np.asarray(nodata, dtype=dtype)
    return out


class Pyramid:
    """Reduce level-0 blocks, as they arrive row-major, into levels ``1 … levels``.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of level 0.
    channels : int
        Bands.
    dtype : str or numpy.dtype
        Sample type.
    tile : int
        Block / tile side (a power of two times the smallest block side; every level is
        tiled with it).
    levels : int, optional
        Coarser levels (default: down to one tile, :func:`level_count`); at most
        ``log2(tile)``.
    resampling : {"average", "nearest", "mode"}
    nodata : float, optional
    """

    def __init__(
        self, shape: tuple[int, int], channels: int, dtype: str | np.dtype, tile: int, levels: int | None = None,
        resampling: str = "average", nodata: float | None = None,
    ):
        if resampling not in RESAMPLING:
            raise ValueError(f"--resampling {resampling!r} is not one of {', '.join(RESAMPLING)}; choose one of those")
        self.levels = level_count(shape, tile) if levels is None else int(levels)
        deepest = int(math.log2(tile)) if tile & (tile - 1) == 0 else 0
        if self.levels > deepest:
            raise ValueError(
                f"{self.levels} pyramid levels need blocks of at least {2 ** self.levels} pixels, got {tile}; "
                f"use a larger --block or fewer levels"
            )
        self.shape, self.channels, self.dtype, self.tile = tuple(shape), channels, np.dtype(dtype), tile
        self.resampling, self.nodata = resampling, nodata
        self.shapes = level_shapes(self.shape, self.levels)
        self.grid = (-(-self.shape[0] // tile), -(-self.shape[1] // tile))
        fill = 0 if nodata is None else nodata
        self._strips = [
            np.full((min(tile, h), w, channels), fill, self.dtype) for h, w in self.shapes[1:]
        ]

    def add(self, y0: int, x0: int, data: np.ndarray) -> Iterator[Tile]:
        """Take the level-0 block at pixel ``(y0, x0)`` (``(h, w, C)``); yield the tiles
        of every level that it completes (its own level-0 tile first)."""
        t = self.tile
        i, j = y0 // t, x0 // t
        if y0 % t or x0 % t:
            raise ValueError(f"block at ({y0}, {x0}) is not on the {t}-pixel grid")
        yield 0, i, j, data
        cur, cy, cx = data, y0, x0
        for k in range(1, self.levels + 1):
            cur = reduce2(cur, self.resampling, self.nodata)
            cy, cx = cy // 2, cx // 2
            strip = self._strips[k - 1]
            row0 = (cy // t) * t
            strip[cy - row0 : cy - row0 + cur.shape[0], cx : cx + cur.shape[1]] = cur
        if j != self.grid[1] - 1:
            return
        for k in range(1, self.levels + 1):  # a level-0 row ends: the strips it completes
            span = 2**k  # level-0 block rows per level-k tile row
            if (i + 1) % span and i != self.grid[0] - 1:
                continue
            h_k, w_k = self.shapes[k]
            ti = i // span
            rows = min(t, h_k - ti * t)
            strip = self._strips[k - 1]
            for tj in range(-(-w_k // t)):
                yield k, ti, tj, strip[:rows, tj * t : min(w_k, (tj + 1) * t)].copy()
