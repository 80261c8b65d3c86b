"""Regenerate benchmarks/RESULTS.md from the JSON files in benchmarks/results/.

Usage: python benchmarks/write_results.py
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"{cpu}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, GPU: {gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def exactness() -> list[str]:
    data = _load("exactness_transforms.json")
    if not data:
        return []
    out = [
        "## Block-wise transforms vs full-image inference",
        "",
        f"`python benchmarks/exactness_transforms.py` — zoo channel configurations (quality 1), random "
        f"weights rescaled so latents spread over several units, on a real photo crop "
        f"{data['image_shape'][0]}×{data['image_shape'][1]} ({data['image']}); blocks: g_a 4, h_a 2 latent "
        f"samples, h_s 8 and g_s 64 output samples.",
        "",
        "| model | transform | max abs diff | max abs value | rounded symbols that differ | non-zero symbols |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        flips = f"{r['flips']} of {r['symbols']}" if "flips" in r else "–"
        nz = f"{r['nonzero_share']:.0%}" if "nonzero_share" in r else "–"
        out.append(f"| {r['model']} | {r['transform']} | {r['max_abs_diff']:.1e} | {r['max_abs_value']:.1f} | {flips} | {nz} |")
    return out + [""]


def memory() -> list[str]:
    data = _load("memory_streaming.json")
    if not data:
        return []
    out = [
        "## Streaming memory",
        "",
        "`python benchmarks/memory_streaming.py` — peak RSS of the `tilestream encode` / `decode` "
        "processes (block 512, local threads) on BigTIFF mosaics of real photographs, against "
        "CompressAI full-image `compress` / `decompress` in a fresh process. Model: mbt2018-mean "
        "quality 3 (N=128, M=192), untrained weights (memory does not depend on weight values; "
        "its bpp is not meaningful).",
        "",
        "| image | encode peak RSS | decode peak RSS | encode s | decode s | CompressAI full-image peak RSS | full encode s | full decode s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        full = (
            f"{r['compressai_full_peak_rss_mib']} MiB | {r['compressai_full_encode_seconds']} | {r['compressai_full_decode_seconds']}"
            if "compressai_full_peak_rss_mib" in r else f"{r.get('compressai_full', '–')} | – | –"
        )
        out.append(
            f"| {r['size']}² | {r['encode_peak_rss_mib']} MiB | {r['decode_peak_rss_mib']} MiB | "
            f"{r['encode_seconds']} | {r['decode_seconds']} | {full} |"
        )
    if data.get("note"):
        out.append(f"\nNote: {data['note']}")
    rows = data["rows"]
    if len(rows) > 1:
        for key in ("encode_peak_rss_mib", "decode_peak_rss_mib"):
            vals = [r[key] for r in rows]
            spread = (max(vals) - min(vals)) / min(vals) * 100
            out.append(f"\n{key.split('_')[0]}: peak RSS varies by {spread:.1f}% from {rows[0]['size']}² to {rows[-1]['size']}².")
    return out + [""]


def rd() -> list[str]:
    data = _load("rd_default.json")
    if not data:
        return []
    out = [
        "## Default model: rate–distortion",
        "",
        f"`python benchmarks/rd_default.py` — held-out photographs never seen in training "
        f"({', '.join(data['images'])}), long side 1536 px. tilestream bytes are the container's "
        f"chunk bitstreams (block 512). BD-rate (PSNR, RGB) against Pillow JPEG 4:2:0.",
        "",
        "| codec | BD-rate vs JPEG |",
        "|---|---|",
    ]
    for name, value in data["bd_rate_vs_jpeg_percent"].items():
        out.append(f"| {name} | {value if isinstance(value, str) else f'{value:+.1f}%'} |")
    out += ["", "| rate point | bpp | PSNR (dB) |", "|---|---|---|"]
    for q, (bpp, psnr) in enumerate(data["curves"]["tilestream default"], start=1):
        out.append(f"| q{q} | {bpp:.4f} | {psnr:.2f} |")
    out += ["", "![RD curves](results/rd_default.png)", ""]
    return out


def main() -> None:
    lines = ["# tilestream benchmark results", "", f"Machine: {_machine()}.", ""]
    for section in (exactness, memory, rd):
        lines += section()
    (HERE / "RESULTS.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
