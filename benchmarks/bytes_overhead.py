"""Bytes of tilestream's chunked streams vs CompressAI's full-image strings, per block size.

Small random-weight test models (latents spread over several units) of every coded family
(context models included) on the 520×777 photo crop in tests/data; CompressAI compresses the replicate-padded
image in one piece with the same weights.

Usage: python benchmarks/bytes_overhead.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import save_json  # noqa: E402

import tilestream  # noqa: E402
from tests.conftest import cached_model, compressai_reference, photo  # noqa: E402


def main() -> None:
    image = photo("garden_520x777.png")
    rows = []
    names = [
        "bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor-checkerboard",
        "elic2022-official", "mbt2018", "cheng2020-anchor", "cheng2020-attn",
    ]
    for name in names:
        align = 16 if name == "bmshj2018-factorized" else 64
        model = cached_model(name)
        _, ref, _ = compressai_reference(model, image, align)
        for block in (512, 256, 128):
            with tempfile.TemporaryDirectory() as tmp:
                res = tilestream.encode(image, f"{tmp}/c.tsz", model=model, block=block, progress=False)
            delta = (res.stream_bytes / ref - 1) * 100
            rows.append({"model": name, "block": block, "bytes": res.stream_bytes, "compressai_bytes": ref, "delta_percent": delta})
            print(f"{name:30s} block {block:4d}: {res.stream_bytes} bytes vs {ref} ({delta:+.2f}%)")
    save_json(HERE / "results" / "bytes_overhead.json", rows)


if __name__ == "__main__":
    main()
