"""Random training crops drawn lazily from photographs or gigapixel sources.

A *pool* is a list of images: photo files (JPEG / PNG, decoded on demand and kept in a
small cache) and large sources (TIFF / zarr, read window by window through
:class:`~tilestream.io.base.Source`, never whole). Crops are drawn uniformly over images,
at a random position, optionally from a randomly downscaled view (more detail per crop),
with random flips.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.io.open import open_source

__all__ = ["CropSampler", "list_images", "split_heldout", "HELDOUT_PHOTOS"]

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
        else:
            found.append(str(p))
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
    """Draws ``(batch, 3, crop, crop)`` float batches in [0, 1].

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
    ):
        if crop < 64 or crop % 64:
            raise TilestreamError(f"crop {crop} must be a multiple of 64 (e.g. 128 or 256)")
        self.files = list(files)
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.scales = tuple(scales)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_size = cache
        self.max_side = max_side
        self._large = {f: open_source(f) for f in self.files if f.lower().endswith(LARGE_SUFFIXES)}
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

        with Image.open(path) as im:
            im = im.convert("RGB")
            shrink = max(1.0, max(im.size) / self.max_side) * scale
            if shrink > 1:
                size = (max(1, round(im.width / shrink)), max(1, round(im.height / shrink)))
                im = im.resize(size, Image.LANCZOS)
            array = np.asarray(im)
        self._cache[key] = array
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return array

    def sample(self) -> np.ndarray:
        """One ``(crop, crop, 3)`` uint8 crop."""
        c = self.crop
        path = self.files[int(self.rng.integers(len(self.files)))]
        if path in self._large:
            src = self._large[path]
            h, w = src.shape
            y0 = int(self.rng.integers(max(1, h - c + 1)))
            x0 = int(self.rng.integers(max(1, w - c + 1)))
            crop = src.read_padded(y0, y0 + c, x0, x0 + c)
            if crop.shape[-1] == 1:
                crop = np.repeat(crop, 3, axis=-1)
        else:
            scale = int(self.rng.choice(self.scales))
            image = self._photo(path, scale)
            if min(image.shape[:2]) < c:
                image = self._photo(path, 1)
            h, w = image.shape[:2]
            y0 = int(self.rng.integers(max(1, h - c + 1)))
            x0 = int(self.rng.integers(max(1, w - c + 1)))
            crop = image[y0 : y0 + c, x0 : x0 + c]
            if crop.shape[:2] != (c, c):
                crop = np.pad(crop, ((0, c - crop.shape[0]), (0, c - crop.shape[1]), (0, 0)), mode="edge")
        if self.rng.random() < 0.5:
            crop = crop[:, ::-1]
        if self.rng.random() < 0.5:
            crop = crop[::-1]
        return np.ascontiguousarray(crop)

    def batch(self, size: int) -> np.ndarray:
        """``(size, 3, crop, crop)`` float32 in [0, 1]."""
        crops = np.stack([self.sample() for _ in range(size)])
        return crops.transpose(0, 3, 1, 2).astype(np.float32) / 255.0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.sample()


def file_digest(files: Sequence[str]) -> str:
    """A short digest of a file list (recorded in checkpoints)."""
    return hashlib.sha256("\n".join(sorted(os.path.basename(f) for f in files)).encode()).hexdigest()[:16]
