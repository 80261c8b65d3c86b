"""CUDA, proven in one prepared run: correctness, batching, throughput, memory, a gigapixel.

One script that finishes within a few minutes on one GPU (``--budget`` seconds, default
480), saving its results after every step so that a run cut short still reports what it
measured:

1. **correctness** -- for the bundled default model (q2) and mbt2018-mean (random weights
   with latents of several units' spread) on a 2K crop of a real photograph: tilestream
   encode + decode on the GPU against CompressAI's own full-image ``compress`` /
   ``decompress`` on the same GPU (bytes, pixels differing and by how much); the GPU
   container decoded on the CPU; and batched (``batch=4``) against unbatched on the GPU
   (chunk bytes, pixels).
2. **throughput** at 4K (a real 3840×2160 photo), best of 2: tilestream at block 512 with
   batch 1 and 4 against CompressAI full-image, encode and decode.
3. **device memory**: ``torch.cuda.max_memory_allocated`` above the loaded model, per block
   size (256 / 512 / 1024, batch 1) and for the full image (the paper's table on a GPU).
4. **gigapixel**: a 32768² mosaic of real photographs (:mod:`make_mosaic`, built in host
   memory), encoded on the GPU and decoded to a zarr array, end to end wall time -- when
   the budget has room left for it.

On a machine without CUDA it prints one line and exits 0, unless ``--device cpu`` asks
for a smoke run of the same steps (with ``--quick``: small sizes; the numbers of such a run
say nothing about a GPU and go to ``cuda_quick.json``).

Running it on a lent GPU machine (bare: Python 3.12 with PyTorch, no compressai / zarr /
dask): here, ``scripts/gpu_prepare.sh`` downloads their wheels into ``.whl`` and copies
the photos into ``benchmarks/corpus/gpu``; then one call::

    run(command="python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site
        .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 &&
        python3 benchmarks/cuda_benchmark.py --photos benchmarks/corpus/gpu --out $OUT/cuda.json
        2>&1 | tee $OUT/log", carry=[".whl", "benchmarks/corpus/gpu"], timeout_s=560)

and copy ``cuda.json`` into ``benchmarks/results/``.

Usage: python benchmarks/cuda_benchmark.py [--device cuda] [--quick] [--budget S]
       [--photos DIR] [--out FILE] [--no-gigapixel]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import save_json

FOUR_K = "mate-backgrounds_usr_share_backgrounds_mate_abstract_Elephants_3840x2160.jpg"


def load_photo(photos: Path, quick: bool) -> tuple[np.ndarray, str]:
    """The 4K photograph (or, without it, the largest photo of tests/data)."""
    from PIL import Image

    path = photos / FOUR_K
    if not path.exists():
        path = HERE.parent / "tests" / "data" / "garden_520x777.png"
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    if quick:
        rgb = rgb[:256, :384]
    return np.ascontiguousarray(rgb), path.name


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_reset(device: str) -> int:
    if not device.startswith("cuda"):
        return 0
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return torch.cuda.memory_allocated()


def peak_mib(device: str, base: int) -> float | None:
    if not device.startswith("cuda"):
        return None
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def to_tensor(image: np.ndarray, align: int = 64) -> torch.Tensor:
    h, w = image.shape[:2]
    hp, wp = -(-h // align) * align, -(-w // align) * align
    padded = np.pad(image, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    return torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255


def compressai_full(model: torch.nn.Module, image: np.ndarray, device: str) -> dict:
    """CompressAI's own full-image compress / decompress on ``device``."""
    h, w = image.shape[:2]
    x = to_tensor(image).to(device)
    with torch.no_grad():
        base = peak_reset(device)
        t = time.perf_counter()
        c = model.compress(x)
        sync(device)
        t_enc = time.perf_counter() - t
        enc_mem = peak_mib(device, base)
        base = peak_reset(device)
        t = time.perf_counter()
        out = model.decompress(c["strings"], c["shape"])
        sync(device)
        t_dec = time.perf_counter() - t
        dec_mem = peak_mib(device, base)
        pixels = torch.round(out["x_hat"].clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()[:h, :w]
    nbytes = sum(len(s[0]) for s in c["strings"])
    return {"pixels": pixels, "bytes": nbytes, "encode_s": t_enc, "decode_s": t_dec, "encode_mib": enc_mem, "decode_mib": dec_mem}


def ts_run(model, image, tmp: Path, tag: str, device: str, block: int, batch: int, decode_device: str | None = None) -> dict:
    """tilestream encode + decode (to a TIFF) on ``device``; times, peak memory, pixels."""
    import tifffile

    import tilestream

    c, o = tmp / f"{tag}.tsz", tmp / f"{tag}.tif"
    base = peak_reset(device)
    t = time.perf_counter()
    res = tilestream.encode(image, c, model=model, block=block, device=device, batch=batch, progress=False, overwrite=True)
    sync(device)
    t_enc = time.perf_counter() - t
    enc_mem = peak_mib(device, base)
    dev = decode_device or device
    base = peak_reset(dev)
    t = time.perf_counter()
    tilestream.decode(c, o, model=model, device=dev, batch=batch, progress=False, overwrite=True)
    sync(dev)
    t_dec = time.perf_counter() - t
    dec_mem = peak_mib(dev, base)
    return {
        "container": c, "pixels": tifffile.imread(o), "bytes": res.stream_bytes,
        "encode_s": t_enc, "decode_s": t_dec, "encode_mib": enc_mem, "decode_mib": dec_mem,
    }


def differ(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(a.astype(int) - b.astype(int))
    return {"max_abs": int(d.max()), "share_differing": float((d != 0).mean())}


def models(image: np.ndarray, device: str) -> dict[str, torch.nn.Module]:
    from tilestream.models import build_model
    from tilestream.models.spec import spec_for
    from tilestream.testing import spread_latents

    out = {"default q2": spec_for(None, quality=2)[1]}
    torch.manual_seed(0)
    m = build_model("mbt2018-mean", 1)
    spread_latents(m, to_tensor(image[:256, :256]))
    m.update(force=True)
    out["mbt2018-mean q1 (spread)"] = m
    return {k: v.to(device).eval() for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run")
    parser.add_argument("--photos", type=Path, default=HERE / "corpus" / "photos")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-gigapixel", action="store_true")
    parser.add_argument("--gigapixel-size", type=int, default=None)
    args = parser.parse_args()
    from tilestream.testing import container_chunks

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("cuda_benchmark: no CUDA device here; nothing measured")
        return
    out = args.out or HERE / "results" / ("cuda_quick.json" if args.quick or not device.startswith("cuda") else "cuda.json")
    start = time.perf_counter()
    left = lambda: args.budget - (time.perf_counter() - start)
    photo, photo_name = load_photo(args.photos, args.quick)
    two_k = np.ascontiguousarray(photo[: min(1080, photo.shape[0]), : min(2048, photo.shape[1])])
    if args.quick:
        two_k = photo
    record: dict = {
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else device,
        "photo": photo_name, "quick": args.quick, "correctness": [], "throughput": [], "memory": [],
    }

    def save() -> None:
        save_json(out, record)

    tmp = Path(tempfile.mkdtemp(prefix="tilestream-cuda-"))
    try:
        ms = models(two_k, device)
        block = 128 if args.quick else 512
        # -- 1. correctness ----------------------------------------------------------
        for label, model in ms.items():
            compressai_full(model, two_k[:128, :128], device)  # warm-up: CUDA context, kernels
            ref = compressai_full(model, two_k, device)
            one = ts_run(model, two_k, tmp, "one", device, block, 1)
            four = ts_run(model, two_k, tmp, "four", device, block, 4)
            cpu = ts_run(model, two_k, tmp, "cpu", device, block, 1, decode_device="cpu") if device != "cpu" else None
            same_chunks = container_chunks(one["container"]) == container_chunks(four["container"])
            row = {
                "model": label, "image": list(two_k.shape[:2]), "block": block,
                "blockwise_vs_full_pixels": differ(one["pixels"], ref["pixels"]),
                "bytes_vs_full_percent": 100 * (one["bytes"] - ref["bytes"]) / ref["bytes"],
                "batched_chunks_identical": same_chunks,
                "batched_vs_unbatched_pixels": differ(four["pixels"], one["pixels"]),
                "gpu_container_decoded_on_cpu_pixels": None if cpu is None else differ(cpu["pixels"], one["pixels"]),
            }
            record["correctness"].append(row)
            print(row, flush=True)
            save()
        # -- 2. throughput at 4K and 3. memory ---------------------------------------
        for label, model in ms.items():
            if left() < 60:
                break
            mpix = photo.shape[0] * photo.shape[1] / 1e6
            fulls = [compressai_full(model, photo, device) for _ in range(2)]
            full = {
                "encode_mpix_s": mpix / min(f["encode_s"] for f in fulls),
                "decode_mpix_s": mpix / min(f["decode_s"] for f in fulls),
                "encode_mib": fulls[0]["encode_mib"], "decode_mib": fulls[0]["decode_mib"],
            }
            for batch in (1, 4):
                runs = [ts_run(model, photo, tmp, f"t{batch}", device, block, batch) for _ in range(2)]
                row = {
                    "model": label, "image": list(photo.shape[:2]), "block": block, "batch": batch,
                    "encode_mpix_s": mpix / min(r["encode_s"] for r in runs),
                    "decode_mpix_s": mpix / min(r["decode_s"] for r in runs),
                    "encode_mib": runs[0]["encode_mib"], "decode_mib": runs[0]["decode_mib"], "full": full,
                }
                row["encode_share_of_full"] = row["encode_mpix_s"] / full["encode_mpix_s"]
                row["decode_share_of_full"] = row["decode_mpix_s"] / full["decode_mpix_s"]
                record["throughput"].append(row)
                print(row, flush=True)
                save()
            for mem_block in ((64, 128) if args.quick else (256, 1024)):
                if left() < 45:
                    break
                r = ts_run(model, photo, tmp, "mem", device, mem_block, 1)
                record["memory"].append({
                    "model": label, "block": mem_block, "encode_mib": r["encode_mib"], "decode_mib": r["decode_mib"],
                    "full_encode_mib": full["encode_mib"], "full_decode_mib": full["decode_mib"],
                })
                save()
        # -- 4. gigapixel ------------------------------------------------------------
        size = args.gigapixel_size or (1024 if args.quick else 32768)
        if not args.no_gigapixel and left() > (30 if args.quick else 150):
            record["gigapixel"] = gigapixel(size, args.photos, tmp, device, ms["default q2"], 4 if device != "cpu" else 1)
            print(record["gigapixel"], flush=True)
            save()
        elif not args.no_gigapixel:
            record["gigapixel"] = {"skipped": f"{left():.0f} s of the budget left"}
            save()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"cuda_benchmark: wrote {out} in {time.perf_counter() - start:.0f} s")


def gigapixel(size: int, photos: Path, tmp: Path, device: str, model: torch.nn.Module, batch: int) -> dict:
    """Encode a ``size``² mosaic of real photographs on ``device`` and decode it to zarr."""
    import zarr
    from make_mosaic import PHOTOS, mosaic_tiles
    from PIL import Image

    import tilestream

    found = [photos / p for p in PHOTOS if (photos / p).exists()]
    if not found:  # tests/data crops stand in (still real photographs), enlarged to a cell
        found = sorted((HERE.parent / "tests" / "data").glob("*.png"))
    pics = []
    for p in found:
        with Image.open(p) as im:
            im = im.convert("RGB")
            if min(im.size) < 1024:
                im = im.resize((max(1024, im.size[0] * 1024 // min(im.size)), max(1024, im.size[1] * 1024 // min(im.size))))
            pics.append(np.asarray(im))
    t = time.perf_counter()
    tile = min(4096, size)
    image = np.empty((size, size, 3), np.uint8)
    for n, piece in enumerate(mosaic_tiles(size, tile, 0, pics)):
        ty, tx = divmod(n, -(-size // tile))
        image[ty * tile : (ty + 1) * tile, tx * tile : (tx + 1) * tile] = piece
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    res = tilestream.encode(image, tmp / "giga.tsz", model=model, device=device, batch=batch, progress=False)
    sync(device)
    enc_s = time.perf_counter() - t
    t = time.perf_counter()
    tilestream.decode(tmp / "giga.tsz", tmp / "giga.zarr", model=model, device=device, batch=batch, progress=False)
    sync(device)
    dec_s = time.perf_counter() - t
    decoded = zarr.open_array(str(tmp / "giga.zarr"), mode="r")
    crop = np.asarray(decoded[size // 2 : size // 2 + 1024, size // 2 : size // 2 + 1024])
    ref = image[size // 2 : size // 2 + 1024, size // 2 : size // 2 + 1024]
    mse = float(np.mean((crop.astype(float) - ref.astype(float)) ** 2))
    return {
        "size": size, "megapixels": size * size / 1e6, "batch": batch, "mosaic_build_s": build_s,
        "encode_s": enc_s, "decode_s": dec_s, "bpp": res.bpp,
        "centre_crop_psnr_db": float(10 * np.log10(255**2 / max(mse, 1e-12))),
        "encode_mpix_s": size * size / 1e6 / enc_s, "decode_mpix_s": size * size / 1e6 / dec_s,
    }


if __name__ == "__main__":
    main()
