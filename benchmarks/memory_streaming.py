"""Peak RSS of `tilestream encode` / `decode` versus image size, and of CompressAI
full-image inference where it fits.

Images are BigTIFF mosaics of real photographs (benchmarks/make_mosaic.py). The model is
mbt2018-mean at zoo quality 3 (N=128, M=192) with CompressAI's random initial weights:
activations (and so memory) do not depend on weight values; bytes and entropy-coding time
do (most symbols of an untrained model are 0, so bpp here is not meaningful).
Each measurement runs in a fresh child process; its peak RSS is the child's ru_maxrss.

Usage: python benchmarks/memory_streaming.py [--quick] [--sizes 4096 8192 16384] [--block 512]
Writes benchmarks/results/memory_streaming.json (or memory_streaming_quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402

FULL_IMAGE_CHILD = r"""
import resource, sys, time, numpy as np, tifffile, torch
limit = int(sys.argv[3]) * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from tilestream.models.spec import ModelSpec
torch.set_grad_enabled(False)
model = ModelSpec("mbt2018-mean", 3, sys.argv[2]).build()
image = tifffile.imread(sys.argv[1])
x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
t = time.perf_counter()
c = model.compress(x)
t_enc = time.perf_counter() - t
t = time.perf_counter()
out = model.decompress(c["strings"], c["shape"])
t_dec = time.perf_counter() - t
print(t_enc, t_dec, sum(len(s[0]) for s in c["strings"]))
"""


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd`` in a child; return (peak RSS in MiB, wall seconds, stdout)."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "sys.stderr.write(p.stderr)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt)\n"
        "print(p.stdout, end='')\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    first, _, rest = out.stdout.partition("\n")
    code, rss_kib, wall = first.split()
    if int(code) != 0:
        raise RuntimeError(f"{cmd} failed ({code}): {out.stderr[-2000:]}")
    return int(rss_kib) / 1024, float(wall), rest


def _total_ram_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def checkpoint() -> Path:
    path = DATA / "mbt2018-mean-q3-init.pt"
    if not path.exists():
        import torch

        from tilestream.models import build_model

        torch.manual_seed(0)
        model = build_model("mbt2018-mean", 3)
        model.update(force=True)
        torch.save(model.state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*")
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--full-limit-gib", type=int, default=20, help="address-space cap of the full-image child")
    args = parser.parse_args()
    from make_mosaic import write_mosaic

    sizes = args.sizes or ([1024, 2048] if args.quick else [4096, 8192, 16384])
    DATA.mkdir(exist_ok=True)
    ck = checkpoint()
    out_json = HERE / "results" / ("memory_streaming_quick.json" if args.quick else "memory_streaming.json")
    previous = json.loads(out_json.read_text())["rows"] if out_json.exists() else []
    rows = [r for r in previous if r["size"] not in sizes]
    for size in sizes:
        tif = DATA / f"mosaic_{size}.tif"
        if not tif.exists():
            write_mosaic(size, tif)
        out = DATA / f"mosaic_{size}.tsz"
        dec = DATA / f"mosaic_{size}_decoded.tif"
        enc_rss, enc_wall, enc_out = run_measured([
            sys.executable, "-m", "tilestream", "encode", str(tif), str(out), "--model", "mbt2018-mean",
            "--quality", "3", "--checkpoint", str(ck), "--block", str(args.block), "--overwrite", "--quiet",
        ])
        dec_rss, dec_wall, _ = run_measured([
            sys.executable, "-m", "tilestream", "decode", str(out), str(dec), "--checkpoint", str(ck),
            "--overwrite", "--quiet",
        ])
        info = json.loads(subprocess.run(
            [sys.executable, "-m", "tilestream", "info", str(out), "--json"], capture_output=True, text=True
        ).stdout)
        row = {
            "size": size, "block": args.block, "megapixels": size * size / 1e6,
            "encode_peak_rss_mib": round(enc_rss), "encode_seconds": round(enc_wall, 1),
            "decode_peak_rss_mib": round(dec_rss), "decode_seconds": round(dec_wall, 1),
            "bpp": info["bpp"],
        }
        # full-image peak RSS grows with the pixel count: skip sizes predicted not to fit
        measured = [r for r in rows if "compressai_full_peak_rss_mib" in r]
        predicted = None
        if measured:
            ref = max(measured, key=lambda r: r["size"])
            predicted = ref["compressai_full_peak_rss_mib"] * (size / ref["size"]) ** 2 / 1024
        if predicted is not None and predicted > args.full_limit_gib:
            row["compressai_full"] = (
                f"not run: predicted peak {predicted:.0f} GiB (from {ref['size']}², scaled by pixels) "
                f"exceeds the {args.full_limit_gib} GiB cap on a {_total_ram_gib():.0f} GiB machine"
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
            continue
        try:
            full_rss, full_wall, full_out = run_measured([
                sys.executable, "-c", FULL_IMAGE_CHILD, str(tif), str(ck), str(args.full_limit_gib)
            ])
            t_enc, t_dec, nbytes = full_out.split()
            row.update({
                "compressai_full_peak_rss_mib": round(full_rss),
                "compressai_full_encode_seconds": round(float(t_enc), 1),
                "compressai_full_decode_seconds": round(float(t_dec), 1),
                "compressai_full_bytes": int(nbytes),
                "tilestream_bytes": info["bytes"],
            })
        except RuntimeError as exc:
            row["compressai_full"] = f"did not fit in {args.full_limit_gib} GiB ({str(exc).splitlines()[-1][:120]})"
        rows.append(row)
        print(json.dumps(row), flush=True)
        for p in (dec,):
            if p.exists():
                p.unlink()
    result = {"rows": sorted(rows, key=lambda r: r["size"])}
    save_json(out_json, result)
    print(f"wrote {out_json}")


if __name__ == "__main__":
    main()
