"""Quality in the data's own units: two images compared block by block, any size.

Per band: RMSE, maximum absolute error and PSNR over the band's valid data range (the
original's max − min over valid pixels); for three or more bands the mean spectral angle
between original and decoded pixel vectors. Pixels equal to ``nodata`` in the original are
left out. One pass, one block of each image in memory at a time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.io.geotiff import gdal_nodata
from tilestream.io.open import open_source

__all__ = ["compare", "format_comparison"]


def _nodata_of(source: Any) -> float | None:
    return gdal_nodata(getattr(source, "metadata", {}).get("geotiff", {}))


def compare(original: Any, decoded: Any, *, nodata: float | None = None, block: int = 1024) -> dict[str, Any]:
    """Compare ``decoded`` with ``original`` (paths, zarr or numpy / dask arrays).

    Parameters
    ----------
    original, decoded
        Images of the same shape and bands (anything :func:`~tilestream.io.open_source`
        reads).
    nodata : float, optional
        Value of pixels without data in ``original`` (default: its GDAL_NODATA tag).
    block : int
        Rows and columns read at a time.

    Returns
    -------
    dict
        ``{"shape", "bands", "valid_pixels", "nodata", "per_band": [{"rmse", "max_abs_error",
        "psnr_db", "range"}], "spectral_angle_deg"}`` (the angle only for ≥ 3 bands).
    """
    a, b = open_source(original), open_source(decoded)
    if a.shape != b.shape or a.channels != b.channels:
        what = "size" if a.shape != b.shape else "bands"
        raise TilestreamError(
            f"images differ in {what}: the original {a.description} is {a.shape[0]}x{a.shape[1]} with "
            f"{a.channels} band(s), the decoded {b.description} is {b.shape[0]}x{b.shape[1]} with "
            f"{b.channels} band(s); compare an image with its own decode"
        )
    nodata = _nodata_of(a) if nodata is None else nodata
    bands = a.channels
    sq, peak = np.zeros(bands), np.zeros(bands)
    lo, hi = np.full(bands, np.inf), np.full(bands, -np.inf)
    count, angles = 0, 0.0
    h, w = a.shape
    for y0 in range(0, h, block):
        for x0 in range(0, w, block):
            y1, x1 = min(h, y0 + block), min(w, x0 + block)
            ref = a.read(y0, y1, x0, x1).reshape(-1, bands).astype(np.float64)
            dec = b.read(y0, y1, x0, x1).reshape(-1, bands).astype(np.float64)
            valid = np.isfinite(ref).all(axis=1)
            if nodata is not None:
                valid &= ~(ref == nodata).all(axis=1)
            ref, dec = ref[valid], dec[valid]
            if not len(ref):
                continue
            err = dec - ref
            sq += (err**2).sum(axis=0)
            peak = np.maximum(peak, np.abs(err).max(axis=0))
            lo, hi = np.minimum(lo, ref.min(axis=0)), np.maximum(hi, ref.max(axis=0))
            count += len(ref)
            if bands >= 3:
                dot = (ref * dec).sum(axis=1)
                norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(dec, axis=1)
                cos = np.where(norms > 0, dot / np.where(norms > 0, norms, 1), 1.0)
                angles += float(np.degrees(np.arccos(np.clip(cos, -1, 1))).sum())
    per_band = []
    for c in range(bands):
        rmse = math.sqrt(sq[c] / count) if count else float("nan")
        span = float(hi[c] - lo[c]) if count else float("nan")
        psnr = float("inf") if rmse == 0 else 20 * math.log10(span / rmse) if span > 0 else float("nan")
        per_band.append({"rmse": rmse, "max_abs_error": float(peak[c]), "psnr_db": psnr, "range": span})
    result: dict[str, Any] = {
        "shape": list(a.shape), "bands": bands, "valid_pixels": count, "nodata": nodata, "per_band": per_band,
    }
    if bands >= 3:
        result["spectral_angle_deg"] = angles / count if count else float("nan")
    return result


def format_comparison(result: dict[str, Any]) -> str:
    """:func:`compare`'s result as a text table."""
    lines = [
        f"{result['shape'][0]} x {result['shape'][1]}, {result['bands']} band(s), "
        f"{result['valid_pixels']} valid pixels" + (f" (nodata {result['nodata']:g})" if result["nodata"] is not None else ""),
        f"  {'band':>4} {'RMSE':>12} {'max |err|':>12} {'PSNR dB':>9} {'range':>12}",
    ]
    for c, r in enumerate(result["per_band"]):
        lines.append(f"  {c:>4} {r['rmse']:>12.4g} {r['max_abs_error']:>12.4g} {r['psnr_db']:>9.2f} {r['range']:>12.4g}")
    if "spectral_angle_deg" in result:
        lines.append(f"  mean spectral angle {result['spectral_angle_deg']:.4f}°")
    return "\n".join(lines) + "\n"
