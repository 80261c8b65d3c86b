"""GeoTIFF georeferencing carried through the container as plain data.

The tags GDAL and GIS read (ModelPixelScale 33550, ModelTiepoint 33922, ModelTransformation
34264, GeoKeyDirectory 34735, GeoDoubleParams 34736, GeoAsciiParams 34737, GDAL_METADATA
42112, GDAL_NODATA 42113) are read from the source's first page, recorded in the container
and written back into decoded TIFFs; a region's tags are the source's, moved to the
region's origin. Nothing else interprets them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GEO_TAGS", "affine", "crs_text", "epsg", "extratags", "for_region", "gdal_nodata", "pixel_size",
    "read_tags", "tags_from",
]

#: tag code → TIFF type letter for tifffile (d: DOUBLE, H: SHORT, s: ASCII)
GEO_TAGS = {33550: "d", 33922: "d", 34264: "d", 34735: "H", 34736: "d", 34737: "s", 42112: "s", 42113: "s"}


def read_tags(page: Any) -> dict[str, Any]:
    """The georeferencing tags of a tifffile page, JSON-ready (``{"33922": [...], ...}``)."""
    found: dict[str, Any] = {}
    for code in GEO_TAGS:
        tag = page.tags.get(code)
        if tag is None:
            continue
        value = tag.value
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        found[str(code)] = value if isinstance(value, str) else [float(v) if GEO_TAGS[code] == "d" else int(v) for v in value]
    return found


def for_region(tags: dict[str, Any], y0: int, x0: int) -> dict[str, Any]:
    """``tags`` of the region whose first pixel is ``(y0, x0)`` of the image."""
    out = dict(tags)
    if "33922" in out:  # tiepoints (I, J, K, X, Y, Z): raster coordinates move by the origin
        points = list(out["33922"])
        for n in range(0, len(points) - 5, 6):
            points[n] -= x0
            points[n + 1] -= y0
        out["33922"] = points
    if "34264" in out:  # 4×4 row-major model transformation: translate by the origin
        m = list(out["34264"])
        m[3] += m[0] * x0 + m[1] * y0
        m[7] += m[4] * x0 + m[5] * y0
        out["34264"] = m
    return out


def extratags(tags: dict[str, Any]) -> list[tuple[int, str, int, Any, bool]]:
    """``tags`` as tifffile ``extratags``."""
    out = []
    for key, value in sorted(tags.items(), key=lambda kv: int(kv[0])):
        code = int(key)
        kind = GEO_TAGS[code]
        out.append((code, kind, 0 if kind == "s" else len(value), value, True))
    return out


def epsg(tags: dict[str, Any]) -> int | None:
    """The EPSG code of the CRS (projected, else geographic) in the GeoKeyDirectory."""
    keys = tags.get("34735")
    if not keys or len(keys) < 4:
        return None
    entries = {keys[n]: (keys[n + 1], keys[n + 3]) for n in range(4, 4 + 4 * keys[3], 4) if n + 3 < len(keys)}
    for key in (3072, 2048):  # ProjectedCSTypeGeoKey, GeographicTypeGeoKey
        location, value = entries.get(key, (None, None))
        if location == 0 and value not in (None, 0, 32767):
            return int(value)
    return None


def pixel_size(tags: dict[str, Any]) -> tuple[float, float] | None:
    """``(x, y)`` pixel size in CRS units (ModelPixelScale), if recorded."""
    scale = tags.get("33550")
    return (float(scale[0]), float(scale[1])) if scale else None


def affine(tags: dict[str, Any]) -> tuple[float, float, float, float, float, float] | None:
    """The pixel → map transform ``(a, b, c, d, e, f)``: ``x = a·col + b·row + c``,
    ``y = d·col + e·row + f`` (pixel corners), from ModelTransformation or from one tiepoint
    with ModelPixelScale; ``None`` without georeferencing (or with ground control points)."""
    if "34264" in tags:
        m = tags["34264"]
        return (m[0], m[1], m[3], m[4], m[5], m[7])
    points, scale = tags.get("33922"), tags.get("33550")
    if points and scale and len(points) == 6:
        i, j, _, x, y, _ = points
        sx, sy = scale[0], scale[1]
        return (sx, 0.0, x - i * sx, 0.0, -sy, y + j * sy)
    return None


def gdal_nodata(tags: dict[str, Any]) -> float | None:
    """The GDAL_NODATA value, if the tags hold one."""
    text = tags.get("42113")
    try:
        return float(str(text).strip("\x00 ")) if text is not None else None
    except ValueError:
        return None


def _is_geographic(code: int) -> bool:
    """Whether EPSG ``code`` is a geographic CRS (pyproj or rasterio when installed; else
    EPSG's own numbering: geographic 2-D CRSs are 4000-4999)."""
    try:
        from pyproj import CRS

        return bool(CRS.from_epsg(code).is_geographic)
    except Exception:  # noqa: BLE001 - pyproj missing or code unknown to it
        pass
    try:
        from rasterio.crs import CRS as RasterioCRS

        return bool(RasterioCRS.from_epsg(code).is_geographic)
    except Exception:  # noqa: BLE001
        return 4000 <= code < 5000


def tags_from(
    transform: tuple[float, float, float, float, float, float], code: int | None, nodata: float | None = None
) -> dict[str, Any]:
    """GeoTIFF tags for a pixel → map ``transform`` ``(a, b, c, d, e, f)`` (pixel corners)
    and an EPSG ``code``: what GDAL writes (tiepoint + pixel scale, or a model
    transformation when rotated; a GeoKeyDirectory naming the CRS by its code).

    >>> tags = tags_from((30.0, 0.0, 500000.0, 0.0, -30.0, 5200000.0), 32633)
    >>> affine(tags), epsg(tags)
    ((30.0, 0.0, 500000.0, 0.0, -30.0, 5200000.0), 32633)
    """
    a, b, c, d, e, f = (float(v) for v in transform)
    tags: dict[str, Any] = {}
    if b == 0 and d == 0 and a > 0 and e < 0:
        tags["33550"] = [a, -e, 0.0]
        tags["33922"] = [0.0, 0.0, 0.0, c, f, 0.0]
    else:
        tags["34264"] = [a, b, 0.0, c, d, e, 0.0, f, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    if code is not None:
        geographic = _is_geographic(int(code))
        keys = [1, 1, 0, 3, 1024, 0, 1, 2 if geographic else 1, 1025, 0, 1, 1,
                2048 if geographic else 3072, 0, 1, int(code)]
        tags["34735"] = keys
    if nodata is not None:
        tags["42113"] = repr(float(nodata)).removesuffix(".0") if float(nodata).is_integer() else repr(float(nodata))
    return tags


def crs_text(tags: dict[str, Any]) -> str | None:
    """The CRS as WKT (through pyproj or rasterio when installed), else ``"EPSG:n"``."""
    code = epsg(tags)
    if code is None:
        return None
    for load in (_pyproj_wkt, _rasterio_wkt):
        try:
            return load(code)
        except Exception:  # noqa: BLE001 - missing library or unknown code: try the next
            continue
    return f"EPSG:{code}"


def _pyproj_wkt(code: int) -> str:
    from pyproj import CRS

    return str(CRS.from_epsg(code).to_wkt())


def _rasterio_wkt(code: int) -> str:
    from rasterio.crs import CRS

    return str(CRS.from_epsg(code).to_wkt())
