"""Latency of region reads in a warm process: what a viewer or a notebook waits for.

``tilestream.open()`` once on a container of the 32768² mosaic of real photographs
(benchmarks/make_mosaic.py; encoded with the bundled default model, block 512), then
512² regions at seeded random, unaligned positions: each read the first time (its
latents not decoded yet), again (the same region), and its neighbour half a region to
the right (sharing half its latents); and the same first reads with the cache off
(``cache_bytes=0``). Every read is checked to equal the same window decoded with the
cache off, and compared with the crop of a wider window's decode (g_s on another window
shape sums in another order: rounding flips of one grey level are counted).

Target (issue 13): a 512² region in <= 1 s warm.

Usage: python benchmarks/region_latency.py [--container PATH] [--size 32768] [--regions 12] [--out NAME.json]
Writes benchmarks/results/region_latency.json (or NAME.json).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _summary(times: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3), "min_s": round(min(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--container")
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--region", type=int, default=512)
    parser.add_argument("--regions", type=int, default=12)
    parser.add_argument("--out", default="region_latency.json", help="result file under benchmarks/results")
    args = parser.parse_args()
    container = Path(args.container) if args.container else DATA / f"mosaic_{args.size}.tsz"
    if not container.exists():
        import subprocess

        from make_mosaic import write_mosaic

        tif = DATA / f"mosaic_{args.size}.tif"
        if not tif.exists():
            write_mosaic(args.size, tif)
        subprocess.run(
            [sys.executable, "-m", "tilestream", "encode", str(tif), str(container), "--block", "512", "--quiet"], check=True
        )

    import tilestream
    from tilestream.geometry import Window
    from tilestream.pipeline import decode_region

    img, open_s = _timed(lambda: tilestream.open(container))
    h, w = img.meta.image_shape
    r = args.region
    rng = np.random.default_rng(2026)
    spots = [(int(rng.integers(0, h - 3 * r)), int(rng.integers(0, w - 3 * r))) for _ in range(args.regions + 1)]
    _, process_first = _timed(lambda: img[spots[0][0] : spots[0][0] + r, spots[0][1] : spots[0][1] + r])
    first, again, beside, uncached, checked = [], [], [], [], 0
    wider_max, wider_pixels = 0, 0
    for y, x in spots[1:]:
        a, t = _timed(lambda: img[y : y + r, x : x + r])
        first.append(t)
        b, t = _timed(lambda: img[y : y + r, x : x + r])
        again.append(t)
        c, t = _timed(lambda: img[y : y + r, x + r // 2 : x + r // 2 + r])
        beside.append(t)
        # the cache changes nothing: the same windows decoded without it are identical
        plain_a = decode_region(img._ctx, Window.from_bounds(y, y + r, x, x + r))
        plain_c = decode_region(img._ctx, Window.from_bounds(y, y + r, x + r // 2, x + r // 2 + r))
        assert np.array_equal(a, plain_a) and np.array_equal(b, a) and np.array_equal(c, plain_c)
        # a wider window: g_s on other window shapes sums in another order (rounding flips)
        ref = decode_region(img._ctx, Window.from_bounds(y, y + r, x, x + 2 * r)).astype(int)
        for got, crop in ((a, ref[:, :r]), (c, ref[:, r // 2 : r // 2 + r])):
            diff = np.abs(got.astype(int) - crop)
            wider_max = max(wider_max, int(diff.max()))
            wider_pixels += int((diff > 0).any(axis=-1).sum())
        checked += 1
    cold = tilestream.open(container, cache_bytes=0)
    for y, x in spots[1:]:
        _, t = _timed(lambda: cold[y + r : y + 2 * r, x + r : x + 2 * r])
        uncached.append(t)
    row = {
        "container": container.name,
        "image": [h, w],
        "block": img.meta.block,  # the container's chunk grid
        "chunk": img.meta.block,
        "transform_block": img._ctx.block or img.meta.block,
        "model": img.model.get("name"),
        "region": r,
        "regions": args.regions,
        "open_s": round(open_s, 2),
        "first_read_in_process_s": round(process_first, 3),
        "first_read": _summary(first),
        "repeated_read": _summary(again),
        "neighbour_read": _summary(beside),
        "first_read_cache_off": _summary(uncached),
        "cache_bytes_held": img.cache.nbytes,
        "checked_equal_to_uncached_decode": checked,
        "vs_wider_window_max_abs_diff": wider_max,
        "vs_wider_window_pixels_differing": wider_pixels,
        "pixels_compared_with_wider_window": 2 * checked * r * r,
        "target_s": 1.0,
    }
    print(row)
    save_json(HERE / "results" / args.out, row)


if __name__ == "__main__":
    main()
