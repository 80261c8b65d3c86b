"""Serial context models: decode in worker processes against CompressAI's serial decode.

A serial context (mbt2018, cheng2020-*) decodes one latent sample after another in a
Python-level loop that holds the GIL, so threads cannot decode two tiles at once. The
sheared tiles of a wavefront step are independent, and in worker processes
(``scheduler="processes"``, a dask LocalCluster of single-threaded workers) they do run
side by side. For each serial model (zoo quality 1, random weights with latents of several
units' spread) on a 2K crop (2048×1080) of a real photograph, block 512: CompressAI's
full-image ``decompress``; tilestream's decode on local threads; and on 2 worker processes,
both with the cluster's start counted (what ``tilestream decode --scheduler processes``
costs) and on an already running cluster; best of ``--repeat``. Pixels are checked against
the threaded decode (rounding ties only).

Usage: python benchmarks/serial_processes.py [--repeat 2] [--models mbt2018 ...] [--quick]
Writes benchmarks/results/serial_processes.json (or _quick.json).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import save_json
from context_models import compressai_run, load_image, to_tensor

SERIAL = ["mbt2018", "cheng2020-anchor", "cheng2020-attn"]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=SERIAL)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import distributed

    import tilestream
    from tilestream.models import build_model
    from tilestream.testing import SMALL_CONFIGS, spread_latents

    height, width, block = (256, 384, 128) if args.quick else (1080, 2048, 512)
    image, source = load_image(height, width)
    mpix = image.shape[0] * image.shape[1] / 1e6
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        model = build_model(name, **SMALL_CONFIGS[name]) if args.quick else build_model(name, 1)
        spread_latents(model, to_tensor(image[:256, :256]))
        model.update(force=True)
        ref_s = min(compressai_run(model, image)["decode_s"] for _ in range(args.repeat))
        with tempfile.TemporaryDirectory() as tmp:
            c = f"{tmp}/c.tsz"
            tilestream.encode(image, c, model=model, block=block, chunk=block, progress=False)

            def decode(out: str, c: str = c, model: torch.nn.Module = model, tmp: str = tmp, **kw) -> None:
                tilestream.decode(c, f"{tmp}/{out}", model=model, progress=False, overwrite=True, **kw)

            threads_s = min(timed(lambda: decode("t.tif")) for _ in range(args.repeat))
            cold_s = min(timed(lambda: decode("p.tif", scheduler="processes", num_workers=2)) for _ in range(args.repeat))
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                    distributed.Client(cluster) as client:
                decode("w.tif", scheduler=client)  # warm-up: the workers load the model
                warm_s = min(timed(lambda: decode("w.tif", scheduler=client)) for _ in range(args.repeat))
            t, p, w = (tifffile.imread(f"{tmp}/{n}.tif") for n in ("t", "p", "w"))
        d = np.abs(p.astype(int) - t.astype(int)) | np.abs(w.astype(int) - t.astype(int))
        row = {
            "model": name, "quality": 1, "image": f"{source} crop {image.shape[0]}x{image.shape[1]}", "block": block,
            "compressai_decode_s": ref_s, "threads_decode_s": threads_s,
            "processes_decode_s_with_start": cold_s, "processes_decode_s_warm": warm_s,
            "speedup_vs_compressai_with_start": ref_s / cold_s, "speedup_vs_compressai_warm": ref_s / warm_s,
            "threads_vs_compressai": ref_s / threads_s,
            "compressai_decode_mpix_s": mpix / ref_s, "processes_decode_mpix_s_warm": mpix / warm_s,
            "max_pixel_diff_vs_threads": int(d.max()), "pixels_differing_vs_threads": int((d != 0).sum()),
        }
        rows.append(row)
        print(row, flush=True)
    out = HERE / "results" / ("serial_processes_quick.json" if args.quick else "serial_processes.json")
    save_json(out, {"repeat": args.repeat, "cores": __import__("os").cpu_count(), "rows": rows,
                    "command": "python benchmarks/serial_processes.py" + (" --quick" if args.quick else "")})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
