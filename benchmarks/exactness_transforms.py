"""Block-wise vs full-image inference for every transform of every model.

Zoo channel configurations (quality 1; default configuration for models outside the zoo)
with random weights rescaled so latents spread over several units, on a real photograph
crop whose sides are not multiples of 16 or 64 (a smooth synthetic image if the corpus has
not been fetched with scripts/fetch_corpus.sh). Reports the max absolute difference per
transform, and for g_a / h_a the rounded symbols that differ (flips) and the share of
non-zero symbols.

Usage: python benchmarks/exactness_transforms.py [--quick]
Writes benchmarks/results/exactness_transforms.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # HERE_ROOT: run from a checkout
from tilestream import blockwise
from tilestream.models import build_model, transforms
from tilestream.testing import SMALL_CONFIGS, smooth_image, spread_latents, transform_inputs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402
from common import MODELS  # noqa: E402



def photo(height: int, width: int) -> tuple[torch.Tensor, str]:
    photos = sorted((HERE / "corpus" / "photos").glob("*nature_LadyBird.jpg"))
    if not photos:
        return smooth_image(height, width, seed=5), "synthetic smooth image"
    from PIL import Image

    with Image.open(photos[0]) as im:
        rgb = np.asarray(im.convert("RGB"))
    y0, x0 = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    crop = rgb[y0 : y0 + height, x0 : x0 + width]
    return torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].float() / 255, photos[0].name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small models, small image")
    args = parser.parse_args()
    torch.manual_seed(0)
    height, width = (100, 147) if args.quick else (250, 371)
    x, source = photo(height, width)
    blocks = {"g_a": 4, "h_a": 2, "h_s": 8, "g_s": 64}
    rows = []
    for name, quality in MODELS:
        if args.quick:
            model = build_model(name, **SMALL_CONFIGS[name])
        else:
            model = build_model(name, quality)
        spread_latents(model, x)
        found = transforms(model)
        inputs = transform_inputs(model, x)
        for tname, module in found.items():
            inp = inputs[tname]
            t0 = time.perf_counter()
            with torch.no_grad():
                full = module(inp)
            t_full = time.perf_counter() - t0
            t0 = time.perf_counter()
            got = blockwise(module, inp, blocks[tname])
            t_block = time.perf_counter() - t0
            row = {
                "model": name,
                "transform": tname,
                "input": list(inp.shape),
                "block": blocks[tname],
                "max_abs_diff": float((got - full).abs().max()),
                "max_abs_value": float(full.abs().max()),
                "seconds_full": round(t_full, 3),
                "seconds_blockwise": round(t_block, 3),
            }
            if tname in ("g_a", "h_a"):
                rf, rg = torch.round(full), torch.round(got)
                row["symbols"] = int(rf.numel())
                row["nonzero_share"] = float((rf != 0).float().mean())
                row["flips"] = int((rf != rg).sum())
            rows.append(row)
            print(
                f"{name:30s} {tname}  max|Δ|={row['max_abs_diff']:.2e}  "
                + (f"flips={row['flips']} nonzero={row['nonzero_share']:.2f}" if "flips" in row else "")
            )
    result = {
        "image": source,
        "image_shape": [height, width],
        "quick": args.quick,
        "rows": rows,
    }
    out = HERE / "results" / ("exactness_transforms_quick.json" if args.quick else "exactness_transforms.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
