"""Batched transforms on this machine: encode / decode time with ``batch`` 1, 2, 4.

The bundled default model at block 512 on a real 4K photograph (3840×2160, 8 × 5 blocks;
the interior 6 × 3 share a window signature), best of ``--repeat`` runs per setting, and
whether every chunk and every pixel equals the ``batch=1`` run.

Usage: python benchmarks/batching.py [--repeat 2] [--quick]
Writes benchmarks/results/batching.json (or batching_quick.json).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import save_json
from cuda_benchmark import differ, load_photo

from tilestream.testing import container_chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import tifffile

    import tilestream

    image, name = load_photo(HERE / "corpus" / "photos", args.quick)
    block = 128 if args.quick else 512
    tmp = Path(tempfile.mkdtemp(prefix="tilestream-batch-"))
    rows, ref = [], None
    try:
        for batch in (1, 2, 4):
            enc, dec = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                tilestream.encode(image, tmp / f"b{batch}.tsz", block=block, chunk=block, batch=batch, progress=False, overwrite=True)
                enc.append(time.perf_counter() - t)
                t = time.perf_counter()
                tilestream.decode(tmp / f"b{batch}.tsz", tmp / f"b{batch}.tif", batch=batch, progress=False, overwrite=True)
                dec.append(time.perf_counter() - t)
            chunks, pixels = container_chunks(tmp / f"b{batch}.tsz"), tifffile.imread(tmp / f"b{batch}.tif")
            if ref is None:
                ref = (chunks, pixels)
            mpix = image.shape[0] * image.shape[1] / 1e6
            row = {
                "batch": batch, "encode_s": min(enc), "decode_s": min(dec),
                "encode_mpix_s": mpix / min(enc), "decode_mpix_s": mpix / min(dec),
                "chunks_identical_to_batch_1": chunks == ref[0],
                "pixels_vs_batch_1": differ(pixels, ref[1]),
            }
            rows.append(row)
            print(row, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = HERE / "results" / ("batching_quick.json" if args.quick else "batching.json")
    save_json(out, {"image": name, "shape": list(image.shape[:2]), "block": block, "repeat": args.repeat, "rows": rows,
                    "command": "python benchmarks/batching.py" + (" --quick" if args.quick else "")})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
