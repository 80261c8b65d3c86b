"""The statistics pass: the value range of each band, from a bounded sample of windows.

Samples wider than 8 bits are mapped linearly onto the model's input range per band
(:class:`~tilestream.pixels.PixelFormat`). Their range comes from up to ``windows`` windows
of ``size``² pixels on a regular grid over the image, read one at a time (memory: one
window), so it costs a small, fixed part of a read of the image. Values beyond the sampled
range decode clipped to it.
"""

from __future__ import annotations

import math

import numpy as np

from tilestream.io.base import Source
from tilestream.pixels import PixelFormat

__all__ = ["fit_value_range", "sample_windows"]


def sample_windows(shape: tuple[int, int], windows: int, size: int) -> list[tuple[int, int, int, int]]:
    """Up to ``windows`` windows ``(y0, y1, x0, x1)`` of at most ``size``² on a regular grid
    covering an image of ``shape`` (the whole image when it is small).

    >>> sample_windows((100, 300), 4, 256)
    [(0, 100, 0, 256), (0, 100, 256, 300)]
    """
    h, w = shape
    rows, cols = math.ceil(h / size), math.ceil(w / size)
    if rows * cols <= windows:
        return [(r * size, min(h, (r + 1) * size), c * size, min(w, (c + 1) * size)) for r in range(rows) for c in range(cols)]
    per_axis = max(1, int(math.sqrt(windows)))
    ys = np.linspace(0, max(0, h - size), min(rows, per_axis)).round().astype(int)
    xs = np.linspace(0, max(0, w - size), min(cols, per_axis)).round().astype(int)
    return [(int(y), min(h, int(y) + size), int(x), min(w, int(x) + size)) for y in ys for x in xs]


def fit_value_range(source: Source, fmt: PixelFormat | None = None, *, windows: int = 64, size: int = 256) -> PixelFormat:
    """``fmt`` (default: ``source``'s pixel format) with each band's value range, and with
    nodata its fill (the mean of the band's valid samples), taken from a sample.

    uint8 keeps its full range (0-255). A band whose sampled values are all equal gets a
    range of width 1 around them. Nodata pixels (all bands equal to ``fmt.nodata``) are
    left out of the statistics.
    """
    fmt = fmt or source.pixel_format
    if fmt.dtype == "uint8" and fmt.nodata is None:
        return fmt
    lo = np.full(fmt.channels, np.inf)
    hi = np.full(fmt.channels, -np.inf)
    total, count = np.zeros(fmt.channels), np.zeros(fmt.channels)
    for y0, y1, x0, x1 in sample_windows(source.shape, windows, size):
        pixels = source.read(y0, y1, x0, x1)
        block = pixels.reshape(-1, fmt.channels).astype(np.float64)
        finite = np.isfinite(block) & ~fmt.mask(pixels).reshape(-1, 1)
        for c in range(fmt.channels):
            values = block[finite[:, c], c]
            if values.size:
                lo[c], hi[c] = min(lo[c], values.min()), max(hi[c], values.max())
                total[c] += values.sum()
                count[c] += values.size
    fill = None
    if fmt.nodata is not None:
        fill = [float(total[c] / count[c]) if count[c] else float(np.mean(fmt.value_range[c])) for c in range(fmt.channels)]
        if fmt.is_integer:
            fill = [float(round(v)) for v in fill]
    if fmt.dtype == "uint8":
        return fmt.with_ranges(list(fmt.value_range), fill)
    ranges = []
    for c in range(fmt.channels):
        if not np.isfinite(lo[c]):  # no valid sample: keep the type's default
            ranges.append(fmt.value_range[c])
        elif hi[c] > lo[c]:
            ranges.append((float(lo[c]), float(hi[c])))
        else:
            ranges.append((float(lo[c]) - 0.5, float(lo[c]) + 0.5))
    return fmt.with_ranges(ranges, fill)
