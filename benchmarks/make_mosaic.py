"""Write a large RGB BigTIFF mosaic of real photographs, tile by tile (never in memory).

Photographs come from the corpus fetched by scripts/fetch_corpus.sh (real photos from
Debian's wallpaper packages). Each 1024x1024 cell of the mosaic is a crop of one photo,
chosen and placed deterministically from the seed.

Usage: python benchmarks/make_mosaic.py SIZE OUT.tif [--tile 512] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTOS = [
    "mate-backgrounds_usr_share_backgrounds_mate_nature_Dune.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_Garden.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_LadyBird.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_RainDrops.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_Storm.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_TwoWings.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_Wood.jpg",
    "mate-backgrounds_usr_share_backgrounds_mate_nature_YellowFlower.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_Autumn_contents_images_2560x1600.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_BytheWater_contents_images_2560x1600.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_ColorfulCups_contents_images_2560x1600.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_FallenLeaf_contents_images_2560x1600.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_Kite_contents_images_2560x1600.jpg",
    "plasma-workspace-wallpapers_usr_share_wallpapers_Path_contents_images_2560x1600.jpg",
]
CELL = 1024


def load_photos(corpus: Path) -> list[np.ndarray]:
    photos = []
    for name in PHOTOS:
        path = corpus / "photos" / name
        if not path.exists():
            raise SystemExit(f"{path} is missing; run scripts/fetch_corpus.sh first")
        with Image.open(path) as im:
            photos.append(np.asarray(im.convert("RGB")))
    return photos


def mosaic_tiles(size: int, tile: int, seed: int, photos: list[np.ndarray]):
    """Yield ``tile × tile`` RGB tiles of the mosaic in row-major order."""
    rng = np.random.default_rng(seed)
    cells = -(-size // CELL)
    plan = [
        [(int(rng.integers(len(photos))), float(rng.random()), float(rng.random())) for _ in range(cells)]
        for _ in range(cells)
    ]

    def cell(ci: int, cj: int) -> np.ndarray:
        k, fy, fx = plan[ci][cj]
        p = photos[k]
        y0 = int(fy * (p.shape[0] - CELL))
        x0 = int(fx * (p.shape[1] - CELL))
        return p[y0 : y0 + CELL, x0 : x0 + CELL]

    for ty in range(0, size, tile):
        for tx in range(0, size, tile):
            out = np.zeros((tile, tile, 3), np.uint8)
            for y in range(ty, min(ty + tile, size), min(tile, CELL)):
                for x in range(tx, min(tx + tile, size), min(tile, CELL)):
                    ci, cj = y // CELL, x // CELL
                    src = cell(ci, cj)
                    h = min(tile, CELL - y % CELL, size - y)
                    w = min(tile, CELL - x % CELL, size - x)
                    out[y - ty : y - ty + h, x - tx : x - tx + w] = src[y % CELL : y % CELL + h, x % CELL : x % CELL + w]
            yield out


def write_mosaic(size: int, out: Path, tile: int = 512, seed: int = 0, corpus: Path = HERE / "corpus") -> Path:
    photos = load_photos(corpus)
    with tifffile.TiffWriter(out, bigtiff=True) as tif:
        tif.write(
            mosaic_tiles(size, tile, seed, photos), shape=(size, size, 3), dtype=np.uint8,
            tile=(tile, tile), photometric="rgb", metadata=None,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_mosaic(args.size, args.out, args.tile, args.seed)
    print(f"wrote {args.out} ({args.size}x{args.size} RGB)")


if __name__ == "__main__":
    main()
