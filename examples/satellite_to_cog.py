"""Satellite users: compress a GeoTIFF scene, get a Cloud-Optimized GeoTIFF back.

    python examples/satellite_to_cog.py [SCENE] [WORKDIR]

SCENE defaults to a real 16-bit Landsat-8 scene that scripts/fetch_corpus.sh fetches. The
decoded COG keeps the CRS, the transform and nodata, carries internal overviews, and passes
GDAL's COG validator (checked here with rio-cogeo when it is installed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import tilestream

ROOT = Path(__file__).resolve().parent.parent


def main(scene: Path, workdir: Path, block: int = 512, chunk: int | None = None) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    container = workdir / "scene.tsz"
    result = tilestream.encode(scene, container, quality=2, block=block, chunk=chunk, overwrite=True)
    print(f"{scene.name}: {result.stream_bytes:,} bytes ({result.bpp:.3f} bpp)")
    cog = workdir / "scene_cog.tif"
    tilestream.decode(container, cog, format="cog", compress="deflate", overwrite=True)
    try:
        from rio_cogeo.cogeo import cog_validate
    except ImportError:
        print(f"{cog}: written (install rio-cogeo to validate it)")
        return cog
    valid, errors, _ = cog_validate(str(cog), quiet=True)
    print(f"{cog}: valid COG: {valid}" + (f" ({'; '.join(errors)})" if errors else ""))
    return cog


if __name__ == "__main__":
    scene = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks/corpus/rasters/LC08_L1TP_224078_20200518_20200518_01_RT.TIF"
    main(scene, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("satellite-example"))
