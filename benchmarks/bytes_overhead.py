"""Bytes of tilestream's chunked streams vs CompressAI's full-image strings, per block size.

Every chunk of a container (and every phase of a context model) is its own rANS stream,
with its own flush and framing (about 16 bytes per chunk for a hyperprior model, the 4-byte
index checksum included). With the default entropy chunk (1024 px, the transform block
being the unit of memory) that costs a fraction of what one chunk per block costs.

Rows: the bundled default model at its lowest rate (quality 1), and the small random-weight
test models of every coded family (latents spread over several units), on real photos: the
520×777 crop in tests/data and, when the corpus is fetched (scripts/fetch_corpus.sh), a
1100×1700 crop of a mate-backgrounds photo. CompressAI compresses the replicate-padded image
in one piece with the same weights. For each transform block (256, 512): the default chunk,
and one chunk per block (``chunk=block``, the layout before chunks were separate).

Usage: python benchmarks/bytes_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import MODELS, save_json  # noqa: E402

import tilestream  # noqa: E402
from tests.conftest import cached_model, photo  # noqa: E402
from tilestream.container import ContainerReader  # noqa: E402
from tilestream.models.spec import spec_for  # noqa: E402

LARGE = HERE / "corpus" / "photos" / "mate-backgrounds_usr_share_backgrounds_mate_abstract_Elephants_3840x2160.jpg"


def compressai_bytes(model: torch.nn.Module, image: np.ndarray, align: int) -> int:
    """Bytes of CompressAI's own strings for the replicate-padded image in one piece."""
    h, w = image.shape[:2]
    hp, wp = -(-h // align) * align, -(-w // align) * align
    padded = np.pad(image, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        strings = model.compress(x)["strings"]
    return sum(len(s[0]) for s in strings)


def images(quick: bool) -> list[tuple[str, np.ndarray]]:
    out = [("garden 520x777", photo("garden_520x777.png"))]
    if not quick and LARGE.exists():
        from PIL import Image

        with Image.open(LARGE) as im:
            out.append(("elephants 1100x1700", np.ascontiguousarray(np.asarray(im.convert("RGB"))[:1100, :1700])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small crop and two families only")
    args = parser.parse_args()
    models: list[tuple[str, str]] = [("default q1", "default")] + [(name, name) for name, _ in MODELS]
    if args.quick:
        models = models[:2]
    rows = []
    for label, pixels in images(args.quick):
        for name, key in models:
            if key == "default":
                _, model = spec_for(None, quality=1)
                kwargs: dict = {"quality": 1}
            else:
                model = cached_model(key)
                kwargs = {"model": model}
            align = 16 if key == "bmshj2018-factorized" else 64
            ref = compressai_bytes(model, pixels, align)
            for block in (256, 512):
                for chunk in (None, block):
                    with tempfile.TemporaryDirectory() as tmp:
                        start = time.perf_counter()
                        res = tilestream.encode(pixels, f"{tmp}/c.tsz", block=block, chunk=chunk, progress=False, **kwargs)
                        seconds = time.perf_counter() - start
                        with ContainerReader(f"{tmp}/c.tsz") as reader:
                            size, grid = reader.meta.block, reader.meta.grid_shape
                    delta = (res.stream_bytes / ref - 1) * 100
                    rows.append({
                        "image": label, "model": name, "block": block, "chunk": size, "default_chunk": chunk is None,
                        "grid": list(grid), "bytes": res.stream_bytes, "compressai_bytes": ref,
                        "bpp": ref * 8 / (pixels.shape[0] * pixels.shape[1]), "delta_percent": delta,
                        "encode_s": round(seconds, 2),
                    })
                    print(f"{label:20s} {name:30s} block {block:4d} chunk {size:4d}: {res.stream_bytes} bytes vs "
                          f"{ref} ({delta:+.2f}%)", flush=True)
    save_json(HERE / "results" / ("bytes_overhead_quick.json" if args.quick else "bytes_overhead.json"), rows)


if __name__ == "__main__":
    main()
