"""``tilestream.open``: a coded image you can slice like an array, decoding lazily."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from torch import nn

from tilestream.container import ContainerReader
from tilestream.errors import TilestreamError
from tilestream.geometry import Window
from tilestream.pipeline import coded_context, decode_region
from tilestream.pipeline import region_cache
from tilestream.schedule import Runner

__all__ = ["DEFAULT_CACHE_BYTES", "CodedImage", "ReducedView", "open_image"]

#: latents kept between region reads of one open image (:mod:`tilestream.cache`)
DEFAULT_CACHE_BYTES = 256 * 2**20


def _normalise_index(key: Any, shape: tuple[int, int]) -> tuple[Window, tuple[Any, ...]]:
    if not isinstance(key, tuple):
        key = (key,)
    if len(key) > 3:
        raise TilestreamError(f"too many indices {key!r}; index as img[y0:y1, x0:x1(, c)]")
    spatial = list(key[:2]) + [slice(None)] * (2 - len(key[:2]))
    bounds = []
    squeeze: list[Any] = []
    for axis, (item, size) in enumerate(zip(spatial, shape)):
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            i = int(item) + (size if item < 0 else 0)
            if not 0 <= i < size:
                raise IndexError(f"index {item} is out of bounds for axis {axis} of size {size}")
            bounds.append((i, i + 1))
            squeeze.append(0)
        elif isinstance(item, slice):
            start, stop, step = item.indices(size)
            if step != 1:
                raise TilestreamError(f"slice step {item.step} is not supported; use step 1")
            if stop <= start:
                raise TilestreamError(f"empty region {start}:{stop} on axis {axis}; index with start < stop")
            bounds.append((start, stop))
            squeeze.append(slice(None))
        else:
            raise TilestreamError(f"index {item!r} is not supported; use ints or slices")
    rest = tuple(squeeze) + tuple(key[2:])
    return Window.from_bounds(bounds[0][0], bounds[0][1], bounds[1][0], bounds[1][1]), rest


class CodedImage:
    """A container opened for reading, sliced like a numpy array.

    ``img[y0:y1, x0:x1]`` decodes only the chunks the region needs (halos included) and
    returns ``(h, w, 3)`` samples (``(h, w)`` for grayscale) of the image's dtype. Use it as
    a context manager (or call :meth:`close`) to release the container's cached handles.

    Attributes
    ----------
    shape : tuple
        ``(H, W, 3)`` or ``(H, W)``.
    dtype : numpy.dtype
        The image's sample type.
    pixel_format : PixelFormat
        Sample type, channels and value mapping.
    model : dict
        Name, quality and SHA-256 of the weights.
    bpp : float
        Bits per pixel of the chunk bitstreams.
    """

    def __init__(
        self, path: str, *, model: nn.Module | str | None = None, checkpoint: Any = None, device: Any = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES, block: int | None = None,
    ):
        if isinstance(cache_bytes, bool) or not isinstance(cache_bytes, (int, np.integer)) or cache_bytes < 0:
            raise TilestreamError(f"cache_bytes {cache_bytes!r} is not a whole number of bytes >= 0; pass 0 to keep nothing")
        self.path = os.fspath(path)
        self._reader = ContainerReader(self.path)
        self._ctx = coded_context(self._reader, model, checkpoint, device, block)
        #: latent results kept between region reads (see :mod:`tilestream.cache`)
        self.cache = region_cache(self._ctx, int(cache_bytes))
        self.meta = self._reader.meta
        self.pixel_format = self._reader.pixel_format
        self.shape: tuple[int, ...] = self.pixel_format.image_shape(*self.meta.image_shape)
        self.dtype = np.dtype(self.pixel_format.dtype)
        self.model = dict(self.meta.model)
        self.nbytes_streams = self._reader.stream_bytes
        self.bpp = self._reader.bpp

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (
            f"CodedImage({self.path!r}, shape={self.shape}, model={self.model['name']}, "
            f"bpp={self.bpp:.3f})"
        )

    def __enter__(self) -> CodedImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the container's cached array handles and the cached latents."""
        self._reader.close()
        self.cache.clear()

    def __getitem__(self, key: Any) -> np.ndarray:
        window, rest = _normalise_index(key, self.meta.image_shape)
        return self.pixel_format.squeeze(decode_region(self._ctx, window, cache=self.cache))[rest]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self[:, :]
        return full.astype(dtype) if dtype is not None else full

    def level(self, k: int, resampling: str = "average") -> ReducedView:
        """The image reduced ``k`` times by 2 (a preview), sliced like the image.

        ``img.level(k)[y0:y1, x0:x1]`` decodes only the full-resolution region under the
        slice (``2^k`` times larger on each side) and reduces it ``k`` times 2 × 2, exactly
        as the pyramids of ``decode --overviews`` are made (:mod:`tilestream.io.pyramid`):
        the same pixels as level ``k`` of a decoded COG, OME-TIFF or OME-Zarr.

        Parameters
        ----------
        k : int
            Level, 0 (the image) or more.
        resampling : {"average", "nearest", "mode"}
            How each 2 × 2 group is reduced (nodata respected).
        """
        from tilestream.io.pyramid import RESAMPLING

        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise TilestreamError(f"level {k!r} is not a whole number >= 0; pass 0 for the image, 1 for half size, …")
        if resampling not in RESAMPLING:
            raise TilestreamError(f"resampling {resampling!r} is not one of {', '.join(RESAMPLING)}; choose one of those")
        return ReducedView(self, int(k), resampling)

    def to_xarray(self) -> Any:
        """A lazily decoded ``xarray.DataArray`` with dims ``(band, y, x)``, pixel-centre
        coordinates and (with rioxarray) CRS and transform; see :mod:`tilestream.xarray_backend`."""
        from tilestream.xarray_backend import to_xarray

        return to_xarray(self)

    def to_dask(self) -> Any:
        """A lazy dask array, one chunk per block; each chunk decodes only what it needs."""
        import dask
        import dask.array as da

        h, w = self.meta.image_shape
        b = self.meta.block
        rows = []
        for y0 in range(0, h, b):
            row = []
            for x0 in range(0, w, b):
                y1, x1 = min(h, y0 + b), min(w, x0 + b)
                part = dask.delayed(_region, pure=True)(self._ctx, (y0, y1, x0, x1))
                row.append(da.from_delayed(part, shape=self.pixel_format.image_shape(y1 - y0, x1 - x0), dtype=self.dtype))
            rows.append(da.concatenate(row, axis=1))
        return da.concatenate(rows, axis=0)


class ReducedView:
    """Level ``k`` of a :class:`CodedImage` (see :meth:`CodedImage.level`).

    Attributes
    ----------
    shape : tuple
        ``(ceil(H / 2^k), ceil(W / 2^k)(, C))``.
    dtype : numpy.dtype
    """

    def __init__(self, image: CodedImage, k: int, resampling: str):
        self.image, self.k, self.resampling = image, k, resampling
        h, w = image.meta.image_shape
        for _ in range(k):
            h, w = -(-h // 2), -(-w // 2)
        self.size = (h, w)
        self.shape = image.pixel_format.image_shape(h, w)
        self.dtype = image.dtype

    def __repr__(self) -> str:
        return f"ReducedView(level={self.k}, shape={self.shape}, resampling={self.resampling!r})"

    def __getitem__(self, key: Any) -> np.ndarray:
        from tilestream.io.pyramid import reduce2

        window, rest = _normalise_index(key, self.size)
        f = 2**self.k
        h, w = self.image.meta.image_shape
        full = Window.from_bounds(
            window.y.start * f, min(h, window.y.stop * f), window.x.start * f, min(w, window.x.stop * f)
        )
        fmt = self.image.pixel_format
        pixels = decode_region(self.image._ctx, full, cache=self.image.cache)
        for _ in range(self.k):
            pixels = reduce2(pixels, self.resampling, fmt.nodata)
        return fmt.squeeze(pixels)[rest]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = self[:, :]
        return full.astype(dtype) if dtype is not None else full


def _region(ctx: Any, bounds: tuple[int, int, int, int]) -> np.ndarray:
    """One chunk of :meth:`CodedImage.to_dask`, decoded in the calling (dask) thread."""
    pixels = decode_region(ctx, Window.from_bounds(*bounds), run=Runner(synchronous=True))
    return ctx.pixel_format.squeeze(pixels)


def open_image(
    path: str | os.PathLike[str],
    *,
    model: nn.Module | str | None = None,
    checkpoint: Any = None,
    device: Any = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    block: int | None = None,
) -> CodedImage:
    """Open a container for lazy, region-wise decoding.

    Parameters
    ----------
    path : path
        A container written by :func:`tilestream.encode`.
    model, checkpoint
        The weights (a model object, or a checkpoint for the recorded model name); they
        must hash to the SHA-256 the container records.
    device : str, optional
        Torch device for decoding.
    cache_bytes : int
        Memory for the latents (``ẑ``, ``h_s`` parameters, ``ŷ`` chunks) kept between reads,
        so that a repeated or neighbouring region decodes only its own synthesis
        (default 256 MiB; 0 keeps nothing).
    block : int, optional
        Transform block in pixels (default 512): a region larger than a block is
        synthesised one block at a time.
    """
    return CodedImage(os.fspath(path), model=model, checkpoint=checkpoint, device=device, cache_bytes=cache_bytes, block=block)
