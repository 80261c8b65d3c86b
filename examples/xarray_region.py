"""Python users: open a container as a lazy xarray DataArray and read a region.

    python examples/xarray_region.py [CONTAINER]

Without an argument it first compresses a small georeferenced scene that
scripts/fetch_corpus.sh fetches. Only the chunks the region needs are decoded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tilestream

ROOT = Path(__file__).resolve().parent.parent


def main(container: Path) -> object:
    img = tilestream.open(container)
    da = img.to_xarray()  # dims (band, y, x), coordinates and CRS when georeferenced
    print(da)
    region = da.isel(y=slice(0, 256), x=slice(0, 256)).values  # decodes that region only
    print(f"region {region.shape}, mean per band {region.reshape(region.shape[0], -1).mean(axis=1).round(1)}")
    preview = img.level(2)[:, :]  # a quarter-size preview, decoded on demand
    print(f"preview {preview.shape}")
    return region


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        scene = ROOT / "benchmarks/corpus/rasters/landsat.tif"
        tilestream.encode(scene, "scene.tsz", quality=2, overwrite=True)
        main(Path("scene.tsz"))
