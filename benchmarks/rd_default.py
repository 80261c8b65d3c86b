"""Rate–distortion of the default model against JPEG, JPEG 2000, JPEG XL and WebP.

Held-out real photographs of the corpus (never seen in training), downscaled so the long
side is 1536 px (the training resolution). tilestream: the default model's rate points,
coded block-wise (block 512) through the real pipeline; bytes are the container's chunk
bitstreams. Others: Pillow JPEG (4:2:0, quality sweep), and imagecodecs' JPEG 2000,
JPEG XL and WebP. PSNR is over RGB. Curves are averaged over images per setting; BD-rate
is against JPEG.

Usage: python benchmarks/rd_default.py [--weights DIR] [--quick]
Writes benchmarks/results/rd_default.json and benchmarks/results/rd_default.png.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402
from bdrate import bd_rate  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def heldout_images(quick: bool) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    from tilestream.train import list_images, split_heldout

    _, held = split_heldout(list_images([HERE / "corpus" / "photos"]))
    images = []
    for path in held:
        with Image.open(path) as im:
            im = im.convert("RGB")
            s = max(im.size) / (512 if quick else 1536)
            if s > 1:
                im = im.resize((round(im.width / s), round(im.height / s)), Image.LANCZOS)
            images.append((Path(path).name, np.asarray(im)))
    return images[:2] if quick else images


def jpeg(img, q):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q, subsampling=2)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        return len(data), np.asarray(im.convert("RGB"))


def codec(name, img, level):
    import imagecodecs

    if name == "JPEG 2000":
        data = imagecodecs.jpeg2k_encode(img, level=level)
        return len(data), imagecodecs.jpeg2k_decode(data)
    if name == "JPEG XL":
        data = imagecodecs.jpegxl_encode(img, distance=level, effort=7)
        return len(data), imagecodecs.jpegxl_decode(data)
    data = imagecodecs.webp_encode(img, level=level, lossless=False, method=6)
    return len(data), imagecodecs.webp_decode(data)[..., :3]


def tilestream_points(images, weights: Path | None, quick: bool):
    import tilestream

    points = {}
    qualities = (1, 2, 3)
    for q in qualities:
        bpps, psnrs = [], []
        for _, img in images:
            with tempfile.TemporaryDirectory() as tmp:
                if weights is None:
                    res = tilestream.encode(img, f"{tmp}/c.tsz", quality=q, progress=False)
                    dec = tilestream.open(f"{tmp}/c.tsz")[:, :]
                else:
                    ck = weights / f"q{q}.pt"
                    res = tilestream.encode(img, f"{tmp}/c.tsz", model="mbt2018-mean", checkpoint=ck, progress=False)
                    dec = tilestream.open(f"{tmp}/c.tsz", model="mbt2018-mean", checkpoint=ck)[:, :]
            bpps.append(res.stream_bytes * 8 / (img.shape[0] * img.shape[1]))
            psnrs.append(psnr(img, dec))
        points[q] = (float(np.mean(bpps)), float(np.mean(psnrs)))
        print(f"tilestream q{q}: {points[q][0]:.4f} bpp, {points[q][1]:.2f} dB", flush=True)
    return [points[q] for q in qualities]


def sweep(images, fn, settings):
    curve = []
    for s in settings:
        bpps, psnrs = [], []
        for _, img in images:
            n, dec = fn(img, s)
            bpps.append(n * 8 / (img.shape[0] * img.shape[1]))
            psnrs.append(psnr(img, dec))
        curve.append((float(np.mean(bpps)), float(np.mean(psnrs))))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, help="folder with q1.pt q2.pt q3.pt (default: bundled)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    images = heldout_images(args.quick)
    print("held-out images:", ", ".join(n for n, _ in images))
    curves = {"tilestream default": tilestream_points(images, args.weights, args.quick)}
    curves["JPEG (Pillow 4:2:0)"] = sweep(images, jpeg, [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95])
    curves["JPEG 2000"] = sweep(images, lambda im, l: codec("JPEG 2000", im, l), [20, 25, 28, 31, 34, 37, 40, 44])
    curves["JPEG XL"] = sweep(images, lambda im, l: codec("JPEG XL", im, l), [8.0, 5.0, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5])
    curves["WebP"] = sweep(images, lambda im, l: codec("WebP", im, l), [5, 15, 30, 50, 70, 85, 95])
    anchor = curves["JPEG (Pillow 4:2:0)"]
    bd = {}
    for name, curve in curves.items():
        if name.startswith("JPEG (Pillow"):
            continue
        try:
            bd[name] = bd_rate(*zip(*anchor), *zip(*curve))
        except ValueError as exc:
            bd[name] = f"no overlap ({exc})"
        print(f"BD-rate vs JPEG, {name}: {bd[name] if isinstance(bd[name], str) else f'{bd[name]:+.1f}%'}")
    result = {"images": [n for n, _ in images], "curves": curves, "bd_rate_vs_jpeg_percent": bd}
    suffix = "_quick" if args.quick else ""
    save_json(HERE / "results" / f"rd_default{suffix}.json", result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, curve in curves.items():
        x, y = zip(*sorted(curve))
        ax.plot(x, y, "o-" if name.startswith("tilestream") else ".--", label=name, lw=2 if name.startswith("tilestream") else 1)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR RGB (dB)")
    ax.set_xlim(0, 2.0)
    ax.grid(alpha=0.3)
    ax.set_title(f"Held-out photographs ({len(images)}), long side {512 if args.quick else 1536} px")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "results" / f"rd_default{suffix}.png", dpi=120)
    print(f"wrote benchmarks/results/rd_default{suffix}.json and .png")


if __name__ == "__main__":
    main()
