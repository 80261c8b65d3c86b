"""Context models block-wise vs CompressAI full-image: bytes, rounding flips, throughput.

For each context model (checkerboard, ELIC, serial autoregressive), zoo channel configuration
(quality 1; default configuration outside the zoo) with random weights rescaled so latents
spread over several units, on a 2K crop (2048×1080) of a real photograph: tilestream encodes
and decodes block-wise (block 512) and CompressAI compresses and decompresses the whole
(replicate-padded) image, same weights, same run. Reports the byte delta, latent symbols
that differ from CompressAI's ŷ, decoded pixels that differ, and Mpixel/s of both.

Usage: python benchmarks/context_models.py [--quick]
Writes benchmarks/results/context_models[_quick].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import save_json  # noqa: E402

import tilestream  # noqa: E402
from tilestream.models import build_model  # noqa: E402
from tilestream.pipeline import decode_latent  # noqa: E402
from tilestream.testing import SMALL_CONFIGS, spread_latents  # noqa: E402

CONTEXT_MODELS = [
    ("cheng2020-anchor-checkerboard", None),
    ("elic2022-official", None),
    ("mbt2018", 1),
    ("cheng2020-anchor", 1),
    ("cheng2020-attn", 1),
]


def load_image(height: int, width: int) -> tuple[np.ndarray, str]:
    """A centred crop of a real photograph (tests/data when the corpus is not fetched)."""
    found = sorted((HERE / "corpus" / "photos").glob("*Elephants_3840x2160.jpg"))
    if found:
        from PIL import Image

        with Image.open(found[0]) as im:
            rgb = np.asarray(im.convert("RGB"))
        name = found[0].name
    else:
        from PIL import Image

        path = HERE.parent / "tests" / "data" / "garden_520x777.png"
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        name = path.name
    height, width = min(height, rgb.shape[0]), min(width, rgb.shape[1])
    y0, x0 = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    return np.ascontiguousarray(rgb[y0 : y0 + height, x0 : x0 + width]), name


def to_tensor(image: np.ndarray, align: int = 64) -> torch.Tensor:
    h, w = image.shape[:2]
    hp, wp = -(-h // align) * align, -(-w // align) * align
    padded = np.pad(image, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    return torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def compressai_run(model: torch.nn.Module, image: np.ndarray) -> dict:
    """CompressAI's own full-image compress → decompress, timed; ŷ captured at g_s's input."""
    x = to_tensor(image)
    captured = {}
    hook = model.g_s.register_forward_pre_hook(lambda m, args: captured.setdefault("y_hat", args[0].clone()))
    t0 = time.perf_counter()
    out = model.compress(x)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    dec = model.decompress(out["strings"], out["shape"])
    t_dec = time.perf_counter() - t0
    hook.remove()
    h, w = image.shape[:2]
    pixels = torch.round(dec["x_hat"].clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()[:h, :w]
    nbytes = sum(len(s[0]) for s in out["strings"])
    return {"bytes": nbytes, "encode_s": t_enc, "decode_s": t_dec, "pixels": pixels, "y_hat": captured["y_hat"]}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small models, small image, block 256")
    parser.add_argument("--models", nargs="*", help="subset of model names")
    args = parser.parse_args()
    height, width, block = (128, 192, 64) if args.quick else (1080, 2048, 512)
    image, source = load_image(height, width)
    rows = []
    for name, quality in CONTEXT_MODELS:
        if args.models and name not in args.models:
            continue
        torch.manual_seed(0)
        model = build_model(name, **SMALL_CONFIGS[name]) if args.quick else build_model(name, quality)
        spread_latents(model, to_tensor(image[:256, :256]))
        model.update(force=True)
        ref = compressai_run(model, image)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = tilestream.encode(image, f"{tmp}/c.tsz", model=model, block=block, chunk=block, progress=False)
            t_enc = time.perf_counter() - t0
            t0 = time.perf_counter()
            tilestream.decode(f"{tmp}/c.tsz", f"{tmp}/out.tif", model=model, progress=False)
            t_dec = time.perf_counter() - t0
            decoded = tifffile.imread(f"{tmp}/out.tif")
            img = tilestream.open(f"{tmp}/c.tsz", model=model)
            ours_y = decode_latent(img._ctx)
        ref_y = ref["y_hat"][0].numpy()
        gap = np.abs(ours_y - ref_y)
        flips = int((gap > 0.5).sum())
        # away from the flips, ŷ agrees to float precision: the flips are rounding ties
        unflipped = float(gap[gap <= 0.5].max())
        diff = np.abs(decoded.astype(int) - ref["pixels"].astype(int))
        mpix = image.shape[0] * image.shape[1] / 1e6
        row = {
            "model": name, "quality": quality, "image": f"{source} crop {image.shape[0]}x{image.shape[1]}",
            "block": block, "bytes": res.stream_bytes, "compressai_bytes": ref["bytes"],
            "delta_percent": (res.stream_bytes / ref["bytes"] - 1) * 100,
            "latent_symbols": int(ref_y.size), "nonzero_share": float((np.abs(np.round(ref_y)) > 0).mean()),
            "flips": flips, "max_latent_diff_elsewhere": unflipped, "pixels_differing": int((diff != 0).sum()), "max_pixel_diff": int(diff.max()),
            "psnr_vs_compressai_db": psnr(decoded, ref["pixels"]),
            "encode_mpix_s": mpix / t_enc, "decode_mpix_s": mpix / t_dec,
            "compressai_encode_mpix_s": mpix / ref["encode_s"], "compressai_decode_mpix_s": mpix / ref["decode_s"],
            "encode_s": t_enc, "decode_s": t_dec, "compressai_encode_s": ref["encode_s"], "compressai_decode_s": ref["decode_s"],
        }
        rows.append(row)
        print(
            f"{name:30s} bytes {row['bytes']} vs {row['compressai_bytes']} ({row['delta_percent']:+.3f}%), "
            f"flips {flips}/{row['latent_symbols']} (non-zero {row['nonzero_share']:.0%}, max |Δŷ| elsewhere {unflipped:.1e}), "
            f"pixels differing {row['pixels_differing']} (max {row['max_pixel_diff']}); "
            f"encode {t_enc:.1f}s vs {ref['encode_s']:.1f}s, decode {t_dec:.1f}s vs {ref['decode_s']:.1f}s",
            flush=True,
        )
    out = HERE / "results" / ("context_models_quick.json" if args.quick else "context_models.json")
    if args.models and out.exists():  # merge into the other models' rows
        order = {name: n for n, (name, _) in enumerate(CONTEXT_MODELS)}
        kept = [r for r in json.loads(out.read_text())["rows"] if r["model"] not in args.models]
        rows = sorted(kept + rows, key=lambda r: order[r["model"]])
    save_json(out, {"torch_threads": torch.get_num_threads(), "rows": rows})


if __name__ == "__main__":
    main()
