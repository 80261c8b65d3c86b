"""Minimal-overlap validation (the paper's "overlap − 1" table) with the bundled default model.

Encode and decode block-wise as usual, except that one transform (g_a, h_a, h_s or g_s)
gets an input window one sample smaller on every side than the minimal halo says: the
missing samples are read as zeros, as a block codec with a too-small overlap would. For
h_s the encoder and the decoder use the same (too small) window, so the file stays
decodable and the damage shows up as extra bytes; for g_a / h_a as a different latent,
for g_s as wrong pixels. Reported against the exact run: ΔPSNR (dB) and Δbytes (%) at each
quality, and the BD-rate over the three rate points.

Usage: python benchmarks/overlap_minus_one.py [--quick]
Writes benchmarks/results/overlap_minus_one[_quick].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tifffile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402

import tilestream  # noqa: E402
from bdrate import bd_rate  # noqa: E402
from context_models import load_image, psnr  # noqa: E402
from tilestream.geometry import Interval, Window  # noqa: E402
from tilestream.tasks import CodecContext  # noqa: E402

#: which planning method of CodecContext gives each transform's input window
METHODS = {"g_a": "image_window_for_y", "h_a": "y_window_for_z", "h_s": "z_window_for", "g_s": "y_window_for_pixels"}


#: the feature map each planning method's window lives in
SHAPES = {"g_a": "padded_shape", "h_a": "y_shape", "h_s": "z_shape", "g_s": "y_shape"}


def _shrink(window: Window, shape: tuple[int, int]) -> Window:
    """One sample less on every side that overlaps a neighbouring block (not at the map's
    edge, where the window already ends at the zero padding)."""
    axes = []
    for interval, size in zip(window.axes, shape):
        start = interval.start + 1 if interval.start > 0 else interval.start
        stop = interval.stop - 1 if interval.stop < size else interval.stop
        axes.append(Interval(start, max(start, stop)))
    return Window(*axes)


@contextmanager
def overlap_minus_one(transform: str | None):
    """Make ``transform`` read a window one sample smaller on every side."""
    if transform is None:
        yield
        return
    name = METHODS[transform]
    original = getattr(CodecContext, name)

    def shrunk(self, *args):
        return _shrink(original(self, *args), getattr(self.layout, SHAPES[transform]))

    setattr(CodecContext, name, shrunk)
    try:
        yield
    finally:
        setattr(CodecContext, name, original)


def run(image: np.ndarray, quality: int, block: int, transform: str | None) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp, overlap_minus_one(transform):
        res = tilestream.encode(image, f"{tmp}/c.tsz", quality=quality, block=block, chunk=block, progress=False, num_workers=1)
        tilestream.decode(f"{tmp}/c.tsz", f"{tmp}/o.tif", progress=False, num_workers=1)
        return res.stream_bytes, psnr(tifffile.imread(f"{tmp}/o.tif"), image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small crop, quality 2 only")
    args = parser.parse_args()
    image, source = load_image(256, 384) if args.quick else load_image(1080, 2048)
    block = 128 if args.quick else 256
    qualities = (2,) if args.quick else (1, 2, 3)
    pixels = image.shape[0] * image.shape[1]
    exact = {q: run(image, q, block, None) for q in qualities}
    rows = []
    for transform in METHODS:
        points = {q: run(image, q, block, transform) for q in qualities}
        row = {
            "transform": transform, "image": f"{source} crop {image.shape[0]}x{image.shape[1]}", "block": block,
            "per_quality": {
                q: {"bytes": b, "psnr": p, "exact_bytes": exact[q][0], "exact_psnr": exact[q][1],
                    "delta_psnr_db": p - exact[q][1], "delta_bytes_percent": (b / exact[q][0] - 1) * 100}
                for q, (b, p) in points.items()
            },
        }
        if len(qualities) > 1:
            try:
                row["bd_rate_percent"] = bd_rate(
                    [exact[q][0] * 8 / pixels for q in qualities], [exact[q][1] for q in qualities],
                    [points[q][0] * 8 / pixels for q in qualities], [points[q][1] for q in qualities],
                )
            except ValueError as exc:
                row["bd_rate_percent"] = f"n/a ({exc})"
        rows.append(row)
        print(json.dumps(row), flush=True)
    name = "overlap_minus_one_quick.json" if args.quick else "overlap_minus_one.json"
    save_json(HERE / "results" / name, {"exact": exact, "rows": rows})


if __name__ == "__main__":
    main()
