"""CUDA: block-wise vs full-image encode / decode throughput and peak GPU memory.

Runs only where torch sees an NVIDIA GPU (prints a line and exits 0 otherwise). For the
bundled default model and the hyperprior / mean-scale families at zoo quality 1 (random
weights with spread latents; speed and memory do not depend on weight values), on a 2K
crop of a real photograph and a 4K mosaic (or synthetic images if the corpus is absent):
tilestream encode / decode with ``device="cuda"`` at blocks 256 / 512 / 1024, and
CompressAI's full-image compress / decompress on the GPU. Peak GPU memory is
``torch.cuda.max_memory_allocated`` above the loaded model. Designed to finish in under
8 minutes on one H100.

Usage: python benchmarks/cuda_benchmark.py
Writes benchmarks/results/cuda.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402


def images() -> dict[str, np.ndarray]:
    from context_models import load_image

    out = {"2K": load_image(1080, 2048)[0]}
    path = HERE / "data" / "mosaic_3840.tif"
    if path.exists():
        import tifffile

        out["4K"] = np.ascontiguousarray(tifffile.imread(path)[:2160])
    else:  # no corpus on this machine: tile the 2K crop (throughput does not depend on content)
        out["4K"] = np.tile(out["2K"], (2, 2, 1))[:2160, :3840]
    return out


def main() -> None:
    if not torch.cuda.is_available():
        print("cuda_benchmark: no CUDA device here; nothing measured")
        return
    import tilestream
    from context_models import to_tensor
    from tilestream.models import build_model
    from tilestream.models.spec import spec_for
    from tilestream.testing import spread_latents

    dev = "cuda"
    gpu = torch.cuda.get_device_name(0)
    imgs = images()
    models = {"default q2": spec_for(None, quality=2)[1]}
    for name in ("bmshj2018-hyperprior", "mbt2018-mean"):
        torch.manual_seed(0)
        m = build_model(name, 1)
        spread_latents(m, to_tensor(imgs["2K"][:256, :256]))
        m.update(force=True)
        models[f"{name} q1"] = m
    rows = []
    deadline = time.perf_counter() + 7 * 60
    for label, model in models.items():
        model = model.to(dev).eval()
        for size, image in imgs.items():
            if time.perf_counter() > deadline:
                break
            mpix = image.shape[0] * image.shape[1] / 1e6
            x = to_tensor(image).to(dev)
            with torch.no_grad():
                model.compress(x[..., :256, :256])  # warm-up (cuDNN autotune, CUDA context)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                t = time.perf_counter()
                c = model.compress(x)
                torch.cuda.synchronize()
                t_enc = time.perf_counter() - t
                enc_mem = torch.cuda.max_memory_allocated() - base
                torch.cuda.reset_peak_memory_stats()
                t = time.perf_counter()
                model.decompress(c["strings"], c["shape"])
                torch.cuda.synchronize()
                t_dec = time.perf_counter() - t
                dec_mem = torch.cuda.max_memory_allocated() - base
            del x, c
            torch.cuda.empty_cache()
            full = {"encode_mpix_s": mpix / t_enc, "decode_mpix_s": mpix / t_dec,
                    "encode_gpu_mib": enc_mem / 2**20, "decode_gpu_mib": dec_mem / 2**20}
            for block in (256, 512, 1024):
                with tempfile.TemporaryDirectory() as tmp:
                    torch.cuda.reset_peak_memory_stats()
                    base = torch.cuda.memory_allocated()
                    t = time.perf_counter()
                    tilestream.encode(image, f"{tmp}/c.tsz", model=model, block=block, device=dev, progress=False)
                    torch.cuda.synchronize()
                    b_enc = time.perf_counter() - t
                    b_enc_mem = torch.cuda.max_memory_allocated() - base
                    torch.cuda.reset_peak_memory_stats()
                    t = time.perf_counter()
                    tilestream.decode(f"{tmp}/c.tsz", f"{tmp}/o.tif", model=model, device=dev, progress=False)
                    torch.cuda.synchronize()
                    b_dec = time.perf_counter() - t
                    b_dec_mem = torch.cuda.max_memory_allocated() - base
                row = {
                    "gpu": gpu, "model": label, "image": size, "block": block,
                    "encode_mpix_s": mpix / b_enc, "decode_mpix_s": mpix / b_dec,
                    "encode_gpu_mib": b_enc_mem / 2**20, "decode_gpu_mib": b_dec_mem / 2**20,
                    "full": full,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                save_json(HERE / "results" / "cuda.json", {"gpu": gpu, "rows": rows})


if __name__ == "__main__":
    main()
