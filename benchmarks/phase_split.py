"""CompressAI's full-image stages against tilestream's phases, one model, one process.

A diagnosis of the throughput table (``blockwise_vs_full.py``): CompressAI's ``g_a``,
``h_a``, entropy bottleneck, ``h_s``, ``build_indexes``, Gaussian ``compress`` /
``decompress`` and ``g_s`` timed one by one on the full image (``--repeat`` times, to show
how much one computation varies on this machine), CompressAI's whole ``compress`` /
``decompress`` and tilestream's encode / decode (block 512, 1024-px chunks, local threads)
``--repeat`` times each, ``g_a`` and ``g_s`` alone on the full image and block-wise (512-px blocks
with their halos, one after another), then one tilestream encode and decode with the phases of
``time_profile.py`` (tasks in the calling thread).

Models as in ``blockwise_vs_full.py``: zoo quality 1, random weights (seed 0) rescaled by
``spread_latents`` -- bmshj2018-hyperprior and mbt2018-mean get the same ``g_a`` weights.

Usage: python benchmarks/phase_split.py MODEL [--image 2K|4K] [--repeat 3]
Writes benchmarks/results/phase_split_MODEL_IMAGE.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from blockwise_vs_full import mosaic_4k  # noqa: E402
from common import save_json  # noqa: E402
from context_models import load_image, to_tensor  # noqa: E402
from time_profile import Profile, probed  # noqa: E402

import tilestream  # noqa: E402
from tilestream.models import build_model  # noqa: E402
from tilestream.testing import spread_latents  # noqa: E402


@torch.no_grad()
def stages(model: torch.nn.Module, x: torch.Tensor, scale_only: bool) -> dict[str, float]:
    """CompressAI's full-image stages of a (mean-)scale hyperprior, timed one by one."""
    t: dict[str, float] = {}

    def timed(name, fn):
        s = time.perf_counter()
        out = fn()
        t[name] = round(time.perf_counter() - s, 3)
        return out

    gc, eb = model.gaussian_conditional, model.entropy_bottleneck
    y = timed("g_a", lambda: model.g_a(x))
    z = timed("h_a", lambda: model.h_a(torch.abs(y) if scale_only else y))
    zs = timed("z compress", lambda: eb.compress(z))
    z_hat = timed("z decompress", lambda: eb.decompress(zs, z.size()[-2:]))
    params = timed("h_s", lambda: model.h_s(z_hat))
    scales, means = (params, None) if scale_only else params.chunk(2, 1)
    idx = timed("build_indexes", lambda: gc.build_indexes(scales))
    ys = timed("y compress", lambda: gc.compress(y, idx, means=means))
    y_hat = timed("y decompress", lambda: gc.decompress(ys, idx, means=means))
    timed("g_s", lambda: model.g_s(y_hat))
    t["y bytes"] = len(ys[0])
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=["bmshj2018-hyperprior", "mbt2018-mean"])
    parser.add_argument("--image", default="2K", choices=["2K", "4K"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    image = load_image(1080, 2048)[0] if args.image == "2K" else mosaic_4k(False)[0]
    torch.manual_seed(0)
    model = build_model(args.model, 1)
    spread_latents(model, to_tensor(load_image(1080, 2048)[0][:256, :256]))
    model.update(force=True)
    x = to_tensor(image)
    scale_only = args.model == "bmshj2018-hyperprior"
    res: dict = {"model": args.model, "image": args.image, "shape": list(image.shape[:2]), "block": 512, "chunk": 1024}
    res["compressai_stages"] = [stages(model, x, scale_only) for _ in range(args.repeat)]
    with torch.no_grad():  # g_a, g_s alone: full image vs one thread of 512-px blocks with their halos
        y_hat = torch.round(model.g_a(x))
        for name, fn, inp, block in (("g_a", model.g_a, x, 32), ("g_s", model.g_s, y_hat, 512)):
            ts: dict[str, list[float]] = {"full": [], "blocks 512": []}
            for _ in range(args.repeat):
                for key, run in (("full", lambda: fn(inp)), ("blocks 512", lambda: tilestream.blockwise(fn, inp, block))):
                    s = time.perf_counter()
                    run()
                    ts[key].append(round(time.perf_counter() - s, 3))
            res[f"{name}_s"] = ts
            res[f"{name}_block_overhead_percent"] = round((min(ts["blocks 512"]) / min(ts["full"]) - 1) * 100, 1)
    runs: dict[str, list[float]] = {"compressai encode": [], "compressai decode": [], "tilestream encode": [], "tilestream decode": []}
    with tempfile.TemporaryDirectory() as tmp:
        enc = lambda: tilestream.encode(image, f"{tmp}/c.tsz", model=model, block=512, chunk=1024, progress=False, overwrite=True)  # noqa: E731
        dec = lambda: tilestream.decode(f"{tmp}/c.tsz", f"{tmp}/o.tif", model=model, block=512, progress=False, overwrite=True)  # noqa: E731
        for _ in range(args.repeat):
            with torch.no_grad():
                s = time.perf_counter()
                out = model.compress(x)
                runs["compressai encode"].append(round(time.perf_counter() - s, 3))
                s = time.perf_counter()
                model.decompress(out["strings"], out["shape"])
                runs["compressai decode"].append(round(time.perf_counter() - s, 3))
            for name, fn in (("tilestream encode", enc), ("tilestream decode", dec)):
                s = time.perf_counter()
                fn()
                runs[name].append(round(time.perf_counter() - s, 3))
        res["runs_s"] = runs
        res["ratio_best_of"] = {
            job: round(min(runs[f"compressai {job}"]) / min(runs[f"tilestream {job}"]), 3) for job in ("encode", "decode")
        }
        for job, fn in (("encode", enc), ("decode", dec)):
            profile = Profile()
            with probed(profile):
                s = time.perf_counter()
                fn()
                wall = time.perf_counter() - s
            res[f"profiled {job}"] = {"wall_s": round(wall, 3)} | {k: round(v, 3) for k, v in profile.totals.items()}
    for k, v in res.items():
        print(k, v, flush=True)
    save_json(HERE / "results" / f"phase_split_{args.model}_{args.image}.json", res)


if __name__ == "__main__":
    main()
