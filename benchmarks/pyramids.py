"""Pyramid outputs: time and peak memory of a decode to each format against a single-level TIFF.

A mosaic of real photographs (benchmarks/make_mosaic.py; the corpus from
scripts/fetch_corpus.sh) is encoded once with the bundled default model (quality 2, block
512); then the same container is decoded, each in a fresh child process whose peak RSS is
recorded, to a single-level tiled BigTIFF (the reference), a Cloud-Optimized GeoTIFF
(deflate), a pyramidal OME-TIFF (deflate) and an OME-Zarr. The overhead is each format's
wall time over the reference's.

Usage: python benchmarks/pyramids.py [--size 8192] [--quick] [--formats tiff,cog,ome-tiff,ome-zarr]
Writes benchmarks/results/pyramids[_quick].json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402

from memory_streaming import run_measured  # noqa: E402

OUTPUTS = [
    ("tiff", "decoded.tif", []),
    ("cog", "decoded_cog.tif", ["--format", "cog"]),
    ("ome-tiff", "decoded.ome.tif", ["--format", "ome-tiff"]),
    ("ome-zarr", "decoded.ome.zarr", ["--format", "ome-zarr"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 1024² mosaic")
    parser.add_argument("--size", type=int)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--container", help="decode this container of the mosaic (encoded before) instead of encoding it")
    parser.add_argument("--formats", default=",".join(n for n, _, _ in OUTPUTS), help="comma-separated; tiff is always run")
    args = parser.parse_args()
    wanted = {"tiff", *args.formats.split(",")}
    from make_mosaic import write_mosaic

    size = args.size or (1024 if args.quick else 8192)
    DATA.mkdir(exist_ok=True)
    tif = DATA / f"mosaic_{size}.tif"
    if not tif.exists():
        write_mosaic(size, tif)
    cli = [sys.executable, "-m", "tilestream"]
    container = Path(args.container) if args.container else DATA / f"mosaic_{size}_pyr.tsz"
    row: dict = {"size": size, "megapixels": size * size / 1e6, "block": args.block, "model": "bundled default, quality 2"}
    if not args.container:
        rss, wall, _ = run_measured([*cli, "encode", str(tif), str(container), "--block", str(args.block), "--overwrite", "--quiet"])
        row.update(encode_seconds=round(wall, 1), encode_peak_rss_mib=round(rss))
    results = {}
    for name, file, extra in OUTPUTS:
        if name not in wanted:
            continue
        out = DATA / f"mosaic_{size}_{file}"
        t = time.perf_counter()
        rss, wall, _ = run_measured([*cli, "decode", str(container), str(out), "--overwrite", "--quiet", *extra])
        size_bytes = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else out.stat().st_size
        results[name] = {"seconds": round(wall, 1), "peak_rss_mib": round(rss), "bytes": size_bytes}
        print(name, results[name], f"({time.perf_counter() - t:.0f} s)", flush=True)
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
    base = results["tiff"]["seconds"]
    for name in results:
        results[name]["overhead_vs_tiff"] = round(results[name]["seconds"] / base - 1, 3)
    row["decodes"] = results
    print(json.dumps(row, indent=1), flush=True)
    name = "pyramids_quick.json" if args.quick else ("pyramids.json" if size == 8192 else f"pyramids_{size}.json")
    save_json(HERE / "results" / name, row)
    container_path = Path(container)
    if not args.container and container_path.is_dir():  # ours, not the one passed in
        shutil.rmtree(container_path)


if __name__ == "__main__":
    main()
