"""Whole-slide users: compress a slide, then decode it as a viewer-ready OME-Zarr pyramid.

    python examples/slide_to_ome_zarr.py [SLIDE] [WORKDIR]

SLIDE defaults to the Aperio SVS sample that scripts/fetch_corpus.sh fetches
(benchmarks/corpus/slides/cmu_small_region.svs); its full-resolution level is coded with the
bundled default model. The OME-Zarr output (NGFF 0.5 multiscales) opens in napari
(napari-ome-zarr), and with ome-zarr-py or ngff-zarr in Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tilestream

ROOT = Path(__file__).resolve().parent.parent


def main(slide: Path, workdir: Path, block: int = 512, chunk: int | None = None) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    container = workdir / "slide.tsz"
    result = tilestream.encode(slide, container, quality=2, block=block, chunk=chunk, overwrite=True)
    print(f"{slide.name}: {result.image_shape[1]}×{result.image_shape[0]} px → {result.stream_bytes:,} bytes ({result.bpp:.3f} bpp)")
    out = workdir / "slide.ome.zarr"
    tilestream.decode(container, out, overviews=True, overwrite=True)  # a zarr name + overviews: OME-Zarr
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    levels = list(Reader(parse_url(str(out)))())[0].data
    print(f"{out}: {len(levels)} levels, " + ", ".join("×".join(map(str, lv.shape[1:])) for lv in levels))
    return out


if __name__ == "__main__":
    slide = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks/corpus/slides/cmu_small_region.svs"
    main(slide, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("slide-example"))
