"""Rate–distortion of the default model against JPEG, WebP, JPEG 2000 and JPEG XL.

Held-out real photographs of the corpus (never seen in training), in two sets: a
1024×1536 crop at full resolution (the centre of each wallpaper, no resampling), and the
whole photo downscaled 2× (Lanczos). tilestream: every bundled rate point (or the
``q*.pt`` files of ``--weights``), coded block-wise (block 512) through the real
pipeline; bytes are the container's chunk bitstreams. Others: Pillow JPEG (4:2:0, quality
sweep) and imagecodecs' WebP (method 6), JPEG 2000 (OpenJPEG) and JPEG XL (effort 7).
Distortion: PSNR over RGB and MS-SSIM (pytorch_msssim, RGB, float32, data range 255, shown as
-10·log10(1 - MS-SSIM) dB for BD-rates). Curves are averaged over the images of a set per
setting. BD-rate of tilestream against each codec over the quality range both cover
(``benchmarks/bdrate.py``), and of every codec against JPEG.

Usage: python benchmarks/rd_default.py [--weights DIR] [--quick]
Writes benchmarks/results/rd_default.json and benchmarks/results/rd_default.png.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bdrate import bd_rate
from common import save_json

OURS = "tilestream default"
ANCHOR = "JPEG (Pillow 4:2:0)"
SETTINGS = {
    ANCHOR: [5, 10, 20, 30, 50, 70, 85, 95],
    "WebP": [5, 15, 30, 50, 70, 85, 95, 100],
    "JPEG 2000": [20, 25, 28, 31, 34, 37, 40, 44, 48],
    "JPEG XL": [8.0, 5.0, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5, 0.3],
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float()

    with torch.no_grad():
        return float(_ms_ssim(t(a), t(b), data_range=255))


def ms_ssim_db(value: float) -> float:
    return float(-10 * np.log10(max(1 - value, 1e-12)))


def heldout_images(quick: bool) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The two sets: full-resolution centre crops and 2×-downscaled whole photos."""
    from PIL import Image

    from tilestream.train import list_images, split_heldout

    _, held = split_heldout(list_images([HERE / "corpus" / "photos"]))
    if quick:
        held = held[:2]
    ch, cw = (384, 512) if quick else (1024, 1536)
    sets: dict[str, list[tuple[str, np.ndarray]]] = {"full": [], "half": []}
    for path in held:
        with Image.open(path) as im:
            im = im.convert("RGB")
            full = np.asarray(im)
            half = np.asarray(im.resize((round(im.width / 2), round(im.height / 2)), Image.LANCZOS))
        for name, img in (("full", full), ("half", half)):
            h, w = min(ch, img.shape[0]), min(cw, img.shape[1])
            if name == "half" and not quick:
                h, w = img.shape[:2]
            y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
            sets[name].append((Path(path).name, np.ascontiguousarray(img[y : y + h, x : x + w])))
    return sets


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
    if level >= 100:
        data = imagecodecs.webp_encode(img, level=100, lossless=False, method=6)
    else:
        data = imagecodecs.webp_encode(img, level=level, lossless=False, method=6)
    return len(data), imagecodecs.webp_decode(data)[..., :3]


def our_levels(weights: Path | None) -> list[int]:
    if weights is not None:
        found = sorted(int(m.group(1)) for p in weights.glob("q*.pt") if (m := re.fullmatch(r"q(\d+)\.pt", p.name)))
        if not found:
            raise SystemExit(f"--weights {weights}: no q<N>.pt files in it")
        return found
    from tilestream.weights import available_qualities

    return list(available_qualities())


def tilestream_coder(weights: Path | None):
    import tilestream

    def run(img, q):
        with tempfile.TemporaryDirectory() as tmp:
            if weights is None:
                res = tilestream.encode(img, f"{tmp}/c.tsz", quality=q, progress=False)
                dec = tilestream.open(f"{tmp}/c.tsz")[:, :]
            else:
                ck = weights / f"q{q}.pt"
                res = tilestream.encode(img, f"{tmp}/c.tsz", model="mbt2018-mean", checkpoint=ck, progress=False)
                dec = tilestream.open(f"{tmp}/c.tsz", model="mbt2018-mean", checkpoint=ck)[:, :]
        return res.stream_bytes, dec

    return run


def sweep(images, fn, settings, label):
    points = []
    for s in settings:
        bpps, psnrs, ssims = [], [], []
        for _, img in images:
            n, dec = fn(img, s)
            bpps.append(n * 8 / (img.shape[0] * img.shape[1]))
            psnrs.append(psnr(img, dec))
            ssims.append(ms_ssim(img, dec))
        point = {"setting": s, "bpp": float(np.mean(bpps)), "psnr": float(np.mean(psnrs)), "ms_ssim": float(np.mean(ssims))}
        points.append(point)
        print(f"  {label} {s}: {point['bpp']:.4f} bpp, {point['psnr']:.2f} dB, MS-SSIM {point['ms_ssim']:.4f}", flush=True)
    return points


def _bd(anchor, test, metric):
    def curve(points):
        q = [p["psnr"] if metric == "psnr" else ms_ssim_db(p["ms_ssim"]) for p in points]
        return [p["bpp"] for p in points], q

    try:
        ra, qa = curve(anchor)
        rb, qb = curve(test)
        lo, hi = max(min(qa), min(qb)), min(max(qa), max(qb))
        return {"bd_rate": bd_rate(ra, qa, rb, qb), "overlap": [lo, hi]}
    except ValueError as exc:
        return {"bd_rate": None, "overlap": None, "why": str(exc)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, help="folder with q1.pt, q2.pt, ... (default: the bundled model)")
    parser.add_argument("--quick", action="store_true", help="2 photos, small crops (a smoke run)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    sets = heldout_images(args.quick)
    levels = our_levels(args.weights)
    names = [n for n, _ in sets["full"]]
    print("held-out photos:", ", ".join(names))
    result: dict = {"images": names, "levels": levels, "sets": {}}
    for key, images in sets.items():
        shapes = sorted({img.shape[:2] for _, img in images})
        print(f"set {key}: {len(images)} images, shapes {shapes}", flush=True)
        curves = {OURS: sweep(images, tilestream_coder(args.weights), levels, f"{key} tilestream q")}
        curves[ANCHOR] = sweep(images, jpeg, SETTINGS[ANCHOR], f"{key} JPEG")
        for name in ("WebP", "JPEG 2000", "JPEG XL"):
            curves[name] = sweep(images, lambda im, lv, n=name: codec(n, im, lv), SETTINGS[name], f"{key} {name}")
        bd_ours = {m: {n: _bd(c, curves[OURS], m) for n, c in curves.items() if n != OURS} for m in ("psnr", "ms_ssim")}
        bd_jpeg = {m: {n: _bd(curves[ANCHOR], c, m) for n, c in curves.items() if n != ANCHOR} for m in ("psnr", "ms_ssim")}
        for m in ("psnr", "ms_ssim"):
            for n, r in bd_ours[m].items():
                v = "no overlap" if r["bd_rate"] is None else f"{r['bd_rate']:+.1f}%"
                print(f"{key}: BD-rate ({m}) of tilestream against {n}: {v}", flush=True)
        result["sets"][key] = {
            "shapes": [list(s) for s in shapes],
            "curves": curves,
            "bd_rate_ours_vs": bd_ours,
            "bd_rate_vs_jpeg": bd_jpeg,
        }
    result["wall_s"] = time.perf_counter() - t0
    suffix = "_quick" if args.quick else ""
    save_json(HERE / "results" / f"rd_default{suffix}.json", result)
    plot(result, HERE / "results" / f"rd_default{suffix}.png")
    print(f"wrote benchmarks/results/rd_default{suffix}.json and .png ({result['wall_s']:.0f} s)")


def plot(result, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {"full": "full resolution, 1024×1536 crops", "half": "downscaled 2×"}
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for col, (key, data) in enumerate(result["sets"].items()):
        for row, metric in enumerate(("psnr", "ms_ssim")):
            ax = axes[row][col]
            for name, points in data["curves"].items():
                pts = sorted(points, key=lambda p: p["bpp"])
                x = [p["bpp"] for p in pts]
                y = [p["psnr"] if metric == "psnr" else ms_ssim_db(p["ms_ssim"]) for p in pts]
                ours = name == OURS
                ax.plot(x, y, "o-" if ours else ".--", label=name, lw=2 if ours else 1)
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel("PSNR RGB (dB)" if metric == "psnr" else "MS-SSIM (dB, -10·log10(1-x))")
            ax.set_xlim(0, 2.5)
            ax.grid(alpha=0.3)
            ax.set_title(f"{len(result['images'])} held-out photos, {titles.get(key, key)}")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
