"""Peak memory and compute of block-wise coding at 4K, as a share of full-image inference.

Peak RSS above the loaded-model baseline: each measurement runs in a fresh child process
that imports tilestream, loads the model, records its RSS (the baseline), then runs one
job -- tilestream encode or decode (block 256 / 512; local threads) or CompressAI's
full-image compress or decompress -- and reports its peak RSS (ru_maxrss) minus the
baseline. Compute: MACs from the block plan (halo recomputation included), peak = the
largest single block task, total = all blocks, each over full-image inference.

The image is a 3840×2160 mosaic of real photographs. Models: the bundled default
(mbt2018-mean N=64, M=96) and the hyperprior family at zoo quality 1 (bmshj2018-hyperprior,
N=128, M=192, random initial weights: activations, hence memory, do not depend on them).

Usage: python benchmarks/memory_macs.py [--quick]
Writes benchmarks/results/memory_macs[_quick].json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import save_json  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import numpy as np, tifffile, torch
import dask, zarr, tilestream, tilestream.pipeline
from tilestream.models.spec import spec_for, load_model
torch.set_grad_enabled(False)
job, model_arg, path, out, block = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
if model_arg == "default":
    spec, _ = spec_for(None, quality=2)
    enc_kw, dec_kw = {"quality": 2}, {}
else:
    name, ck = model_arg.split("=")
    spec, _ = spec_for(name, checkpoint=ck)
    enc_kw, dec_kw = {"model": name, "checkpoint": ck}, {"checkpoint": ck}
model = load_model(spec)
def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
def padded(path):  # CompressAI needs sides that are multiples of 64: replicate, as tilestream does
    image = tifffile.imread(path)
    h, w = image.shape[:2]
    image = np.pad(image, ((0, -h % 64), (0, -w % 64), (0, 0)), mode="edge")
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
if job == "full-decode":  # the compressed strings are made before the baseline
    x = padded(path)
    c = model.compress(x)
    del x
    import gc; gc.collect()
base = rss_kib()
resource.setrlimit(resource.RLIMIT_AS, (20 * 2**30, 20 * 2**30))
t = time.perf_counter()
if job == "encode":
    tilestream.encode(path, out, block=block, chunk=block, overwrite=True, progress=False, **enc_kw)
elif job == "decode":
    tilestream.decode(path, out, overwrite=True, progress=False, **dec_kw)
elif job == "full-encode":
    model.compress(padded(path))
elif job == "full-decode":
    model.decompress(c["strings"], c["shape"])
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_mib": base / 1024, "peak_mib": peak / 1024, "above_baseline_mib": (peak - base) / 1024, "seconds": dt}))
"""


def child(job: str, model: str, path: Path, out: Path, block: int) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, job, model, str(path), str(out), str(block)], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{job} {model} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 512×768 image, default model only")
    args = parser.parse_args()
    import tifffile
    import torch

    from macs import codec_macs
    from tilestream.models import build_model
    from tilestream.models.spec import spec_for

    DATA.mkdir(exist_ok=True)
    shape = (512, 768) if args.quick else (2160, 3840)
    tif = DATA / f"image_{shape[0]}x{shape[1]}.tif"
    if not tif.exists():
        if args.quick:
            from context_models import load_image

            image = load_image(*shape)[0]
        else:
            from blockwise_vs_full import mosaic_4k

            image = mosaic_4k(False)[0]
        tifffile.imwrite(tif, image, tile=(256, 256), photometric="rgb")
    models = {"default": "default"}
    if not args.quick:
        ck = DATA / "bmshj2018-hyperprior-q1-init.pt"
        if not ck.exists():
            torch.manual_seed(0)
            m = build_model("bmshj2018-hyperprior", 1)
            m.update(force=True)
            torch.save(m.state_dict(), ck)
        models["bmshj2018-hyperprior q1"] = f"bmshj2018-hyperprior={ck}"
    blocks = (256,) if args.quick else (256, 512)
    rows = []
    for label, arg in models.items():
        module = spec_for(None, quality=2)[1] if arg == "default" else build_model("bmshj2018-hyperprior", 1)
        full_enc = child("full-encode", arg, tif, DATA / "unused", 0)
        full_dec = child("full-decode", arg, tif, DATA / "unused", 0)
        for block in blocks:
            container = DATA / f"mem_{block}.tsz"
            enc = child("encode", arg, tif, container, block)
            dec = child("decode", arg, container, DATA / f"mem_{block}.tif", block)
            macs = codec_macs(module, shape, block)
            row = {
                "model": label, "image": f"{shape[1]}x{shape[0]}", "block": block,
                "encode_above_baseline_mib": enc["above_baseline_mib"], "decode_above_baseline_mib": dec["above_baseline_mib"],
                "full_encode_above_baseline_mib": full_enc["above_baseline_mib"], "full_decode_above_baseline_mib": full_dec["above_baseline_mib"],
                "encode_memory_percent": 100 * enc["above_baseline_mib"] / full_enc["above_baseline_mib"],
                "decode_memory_percent": 100 * dec["above_baseline_mib"] / full_dec["above_baseline_mib"],
                "baseline_mib": enc["baseline_mib"],
                "encode_peak_compute_percent": 100 * macs["peak_share"]["encoder"],
                "decode_peak_compute_percent": 100 * macs["peak_share"]["decoder"],
                "encode_total_compute_percent": 100 * macs["overhead"]["encoder"],
                "decode_total_compute_percent": 100 * macs["overhead"]["decoder"],
                "macs": macs,
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "macs"}), flush=True)
            (DATA / f"mem_{block}.tif").unlink(missing_ok=True)
    name = "memory_macs_quick.json" if args.quick else "memory_macs.json"
    save_json(HERE / "results" / name, {"rows": rows})


if __name__ == "__main__":
    main()
