"""Random training crops drawn lazily from photographs or gigapixel sources.

A *pool* is a list of images: photo files (JPEG / PNG, decoded on demand and kept in a
small cache) and large sources (TIFF / zarr of any band count and of every sample type
tilestream codes, read window by window through :class:`~tilestream.io.base.Source`, never
whole). Crops are drawn uniformly over images, at a random position, optionally from a
randomly downscaled view (more detail per crop), with random flips.

A crop is what the encoder feeds the model: one band group of the image (bands grouped by
the model's input channels, :meth:`~tilestream.pixels.PixelFormat.band_groups`), mapped into
``[0, 1]`` per band by the value ranges of a statistics pass over the source
(:func:`~tilestream.io.stats.fit_value_range`, once per source), nodata pixels filled as the
encoder fills them. Crops that are mostly nodata are drawn again.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.io.base import Source
from tilestream.io.open import open_source
from tilestream.io.stats import fit_value_range
from tilestream.pixels import PixelFormat

__all__ = ["CropSampler", "list_images", "source_format", "split_heldout", "HELDOUT_PHOTOS"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
LARGE_SUFFIXES = (".tif", ".tiff", ".btf", ".zarr")

#: real photographs of the corpus kept out of training, for evaluation
HELDOUT_PHOTOS = (
    "EveningGlow",
    "Kite",
    "Path",
    "YellowFlower",
    "TwoWings",
)


def list_images(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Expand folders into the image files (and zarr arrays) inside them, sorted."""
    found: list[str] = []
    for entry in paths:
        p = Path(entry)
        if not p.exists():
            raise TilestreamError(f"training data {str(p)!r} does not exist; pass folders or image files")
        if p.is_dir() and not p.name.endswith(".zarr"):
            found.extend(
                str(f) for f in sorted(p.rglob("*"))
                if f.suffix.lower() in PHOTO_SUFFIXES + LARGE_SUFFIXES and f.is_file()
            )
        elif p.is_dir() or p.suffix.lower() in PHOTO_SUFFIXES + LARGE_SUFFIXES:
            found.append(str(p))
        else:
            raise TilestreamError(
                f"training data {str(p)!r} is not a JPEG, PNG, TIFF or zarr image (by its name); "
                f"pass folders or image files"
            )
    if not found:
        raise TilestreamError(f"no images found in {', '.join(map(str, paths))}; add JPEG, PNG, TIFF or zarr files")
    return found


def split_heldout(files: Sequence[str], heldout: Sequence[str] = HELDOUT_PHOTOS) -> tuple[list[str], list[str]]:
    """Split into (training, held-out) by name: a file is held out if its name contains
    one of ``heldout``."""
    test = [f for f in files if any(h in os.path.basename(f) for h in heldout)]
    train = [f for f in files if f not in test]
    return train, test


class CropSampler:
    """Draws ``(batch, channels, crop, crop)`` float batches in [0, 1].

    Parameters
    ----------
    files : sequence of str
        Photo files and large sources (TIFF / zarr).
    crop : int
        Crop side in pixels, a multiple of 64 (the hyperprior's alignment).
    seed : int
        Seed of the random generator (sampling is reproducible).
    scales : sequence of int
        Downscale factors drawn at random for photos (1 = as loaded).
    cache : int
        Decoded photos kept in memory (all of them are decoded once when ``preload``).
    max_side : int
        Photos larger than this are downscaled on loading (wallpapers are 2560-5640 px
        wide; this keeps the per-crop detail of typical photographs).
    preload : bool
        Decode every photo once up front (fast sampling; memory ≈ 3·max_side²·files bytes).
    channels : int
        Input channels of the model (the band group size; 3 for the stock models).
    nodata : float, optional
        Value of pixels without data in the large sources (default: each source's own,
        e.g. its GDAL_NODATA tag).
    max_nodata : float
        Largest share of nodata pixels in a crop; a crop with more is drawn again (up to
        ``redraws`` times, then the crop with the least nodata is used).
    redraws : int
        Draws of a crop position before settling.
    """

    def __init__(
        self,
        files: Sequence[str],
        crop: int,
        seed: int = 0,
        scales: Sequence[int] = (1, 2),
        cache: int = 8,
        max_side: int = 1536,
        preload: bool = False,
        channels: int = 3,
        nodata: float | None = None,
        max_nodata: float = 0.5,
        redraws: int = 20,
    ):
        if crop < 64 or crop % 64:
            raise TilestreamError(f"crop {crop} must be a multiple of 64 (e.g. 128 or 256)")
        self._photo_format = PixelFormat("uint8", 3, model_channels=channels)  # validates channels
        self.files = list(files)
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.scales = tuple(scales)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_size = cache
        self.max_side = max_side
        self.channels = channels
        self.max_nodata = max_nodata
        self.redraws = redraws
        self._large = {f: open_source(f) for f in self.files if f.lower().endswith(LARGE_SUFFIXES)}
        #: per large source, the encoder's mapping: value ranges, nodata and its fill, groups
        self.formats = {f: source_format(src, nodata, channels) for f, src in self._large.items()}
        if preload:
            photos = [f for f in self.files if f not in self._large]
            self._cache_size = max(cache, len(photos) * len(self.scales))
            for f in photos:
                for scale in self.scales:
                    self._photo(f, scale)

    def _photo(self, path: str, scale: int) -> np.ndarray:
        key = (path, scale)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        from PIL import Image

        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                shrink = max(1.0, max(im.size) / self.max_side) * scale
                if shrink > 1:
                    size = (max(1, round(im.width / shrink)), max(1, round(im.height / shrink)))
                    im = im.resize(size, Image.LANCZOS)
                array = np.asarray(im)
        except (OSError, ValueError, SyntaxError) as exc:  # PIL: unidentified, truncated, damaged
            raise TilestreamError(
                f"training photo {path!r} cannot be read ({type(exc).__name__}: {exc}); remove it "
                f"from the data or replace it with a valid image"
            ) from exc
        self._cache[key] = array
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return array

    def sample(self) -> np.ndarray:
        """One ``(channels, crop, crop)`` float32 crop in [0, 1]: one band group of a random
        image, mapped as the encoder maps it."""
        c = self.crop
        path = self.files[int(self.rng.integers(len(self.files)))]
        if path in self._large:
            fmt = self.formats[path]
            pixels = self._large_crop(path, fmt)
        else:
            fmt = self._photo_format
            scale = int(self.rng.choice(self.scales))
            image = self._photo(path, scale)
            if min(image.shape[:2]) < c:
                image = self._photo(path, 1)
            h, w = image.shape[:2]
            y0 = int(self.rng.integers(max(1, h - c + 1)))
            x0 = int(self.rng.integers(max(1, w - c + 1)))
            pixels = image[y0 : y0 + c, x0 : x0 + c]
            if pixels.shape[:2] != (c, c):
                pixels = np.pad(pixels, ((0, c - pixels.shape[0]), (0, c - pixels.shape[1]), (0, 0)), mode="edge")
        groups = fmt.band_groups()
        bands = groups[int(self.rng.integers(len(groups)))] if len(groups) > 1 else groups[0]
        x = fmt.group(bands).to_model(pixels[..., list(bands)])
        if not np.isfinite(x).all():  # NaN / inf samples (float rasters): not a training signal
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0)
        if self.rng.random() < 0.5:
            x = x[:, :, ::-1]
        if self.rng.random() < 0.5:
            x = x[:, ::-1]
        return np.ascontiguousarray(x)

    def _large_crop(self, path: str, fmt: PixelFormat) -> np.ndarray:
        """A ``(crop, crop, bands)`` window of a large source at a random position, drawn
        again while more than ``max_nodata`` of it is nodata (or not finite)."""
        c = self.crop
        src = self._large[path]
        h, w = src.shape
        best: tuple[float, np.ndarray] = (np.inf, np.empty(0))
        for _ in range(max(1, self.redraws)):
            y0 = int(self.rng.integers(max(1, h - c + 1)))
            x0 = int(self.rng.integers(max(1, w - c + 1)))
            pixels = src.read_padded(y0, y0 + c, x0, x0 + c)
            invalid = fmt.mask(pixels)
            if fmt.dtype == "float32":
                invalid |= ~np.isfinite(pixels).all(axis=-1)
            share = float(invalid.mean())
            if share <= self.max_nodata:
                return pixels
            if share < best[0]:
                best = (share, pixels)
        if best[0] >= 1.0:
            raise TilestreamError(
                f"training source {path!r}: {self.redraws} random {c}x{c} crops hold nothing but "
                f"nodata ({fmt.nodata}); pass the right --nodata, a smaller --crop, or leave it out"
            )
        return best[1]

    def batch(self, size: int) -> np.ndarray:
        """``(size, channels, crop, crop)`` float32 in [0, 1], channels last in memory (as
        the batches of earlier releases, so that training runs reproduce bit for bit)."""
        out = np.empty((size, self.crop, self.crop, self.channels), np.float32)
        for k in range(size):
            out[k] = self.sample().transpose(1, 2, 0)
        return out.transpose(0, 3, 1, 2)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.sample()


def source_format(source: Source, nodata: float | None = None, channels: int = 3) -> PixelFormat:
    """The pixel format the encoder would code ``source`` with: its nodata (``nodata``, or
    the source's own), the value range and nodata fill of each band from a bounded
    statistics pass, and bands grouped by a model of ``channels`` input channels.

    Raises
    ------
    TilestreamError
        If ``nodata`` is not a value of the source's sample type.
    """
    fmt = source.pixel_format
    if nodata is not None:
        try:
            fmt = fmt.with_nodata(nodata)
        except TilestreamError as exc:
            raise TilestreamError(f"training source {source.description}: {exc}") from None
    return fit_value_range(source, fmt).with_model_channels(channels)


def file_digest(files: Sequence[str]) -> str:
    """A short digest of a file list (recorded in checkpoints)."""
    return hashlib.sha256("\n".join(sorted(os.path.basename(f) for f in files)).encode()).hexdigest()[:16]
