"""Cloud-Optimized GeoTIFF: a tiled BigTIFF with internal overviews in the COG layout.

What GDAL's COG validator checks (``validate_cloud_optimized_geotiff.py``, rio-cogeo's
``cog_validate``): the main IFD near the start of the file, the IFDs of the overviews after
it in decreasing size, every IFD before any tile data, and the tile data of the smallest
overview first, the full resolution last (so that a reader fetching a preview over HTTP
reads one short range).

Tiles arrive level by level in any interleaving (see :class:`~tilestream.io.pyramid.Pyramid`);
each is compressed as it comes and appended to a temporary file of its level. The file
itself is assembled at the end: header, IFDs (their sizes do not depend on the data), then
the levels' data, smallest first -- one sequential copy of the compressed tiles.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.io.geotiff import GEO_TAGS

__all__ = ["COMPRESSIONS", "CogWriter"]

#: ``--compress`` choices → TIFF compression code
COMPRESSIONS = {"none": 1, "lzw": 5, "jpeg": 7, "deflate": 8, "zstd": 50000}

_TYPES = {"H": (3, 2), "I": (4, 4), "Q": (16, 8), "d": (12, 8), "s": (2, 1)}
_SAMPLE_FORMAT = {"u": 1, "i": 2, "f": 3}


def _deflate() -> Any:
    """Deflate at level 6 (GDAL's default ZLEVEL): libdeflate through imagecodecs, about
    twice as fast as zlib at the same ratio; zlib where imagecodecs is missing. Both write
    the zlib stream that TIFF's compression 8 holds."""
    try:
        from imagecodecs import deflate_encode
    except ImportError:  # pragma: no cover - imagecodecs is a dependency
        return lambda a: zlib.compress(a.tobytes(), 6)
    return lambda a: deflate_encode(a.tobytes(), level=6)


def _encoder(compress: str, dtype: np.dtype, channels: int, quality: int) -> Any:
    """``tile array → bytes`` for a compression name."""
    if compress not in COMPRESSIONS:
        raise TilestreamError(f"--compress {compress!r} is not one of {', '.join(COMPRESSIONS)}; choose one of those")
    if compress == "none":
        return lambda a: a.tobytes()
    if compress == "deflate":
        return _deflate()
    try:
        import imagecodecs
    except ImportError as exc:
        raise TilestreamError(
            f"--compress {compress} needs the imagecodecs package (pip install imagecodecs); or use deflate or none"
        ) from exc
    if compress == "zstd":
        return lambda a: imagecodecs.zstd_encode(a.tobytes(), level=9)
    if compress == "lzw":
        return lambda a: imagecodecs.lzw_encode(a.tobytes())
    if dtype != np.uint8 or channels not in (1, 3):
        raise TilestreamError(
            f"--compress jpeg takes 8-bit images of 1 or 3 bands, not {channels} band(s) of {dtype}; "
            f"use deflate, zstd or lzw (lossless)"
        )
    if channels == 3:  # stored as YCbCr 4:2:0, as GDAL writes JPEG tiles (see CogWriter._ifd)
        return lambda a: imagecodecs.jpeg8_encode(a, level=quality, colorspace="rgb", outcolorspace="ycbcr", subsampling="420")
    return lambda a: imagecodecs.jpeg8_encode(a[..., 0], level=quality)


def _append(src: Any, out: Any) -> None:
    """Append file ``src`` to ``out`` (at its position): in the kernel where it can
    (``copy_file_range``: no copy through user space, a reflink on file systems that
    share extents), else through a buffer."""
    size = os.fstat(src.fileno()).st_size
    copy = getattr(os, "copy_file_range", None)
    done = 0
    if copy is not None:
        at = out.tell()
        try:
            while done < size:
                n = copy(src.fileno(), out.fileno(), size - done, done, at + done)
                if n == 0:
                    break
                done += n
        except OSError:  # another file system, or a kernel without it: the buffer below
            pass
        out.seek(at + done)
    src.seek(done)
    while chunk := src.read(1 << 24):
        out.write(chunk)


class _Ifd:
    """The tags of one image file directory, and their serialisation."""

    def __init__(self) -> None:
        self.tags: dict[int, tuple[str, list[Any] | bytes]] = {}

    def add(self, code: int, kind: str, value: Any) -> None:
        if kind == "s":
            text = value if isinstance(value, bytes) else str(value).encode("ascii", "replace")
            self.tags[code] = ("s", text if text.endswith(b"\0") else text + b"\0")
        else:
            self.tags[code] = (kind, list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value])

    @staticmethod
    def _payload(kind: str, value: list[Any] | bytes) -> bytes:
        if kind == "s":
            return value  # type: ignore[return-value]
        return struct.pack(f"<{len(value)}{kind}", *value)

    def size(self) -> int:
        """Bytes of the IFD and the values that do not fit in its entries."""
        extra = sum(-(-len(self._payload(k, v)) // 8) * 8 for k, v in self.tags.values() if len(self._payload(k, v)) > 8)
        return 8 + 20 * len(self.tags) + 8 + extra

    def pack(self, offset: int, next_ifd: int) -> bytes:
        """The IFD placed at ``offset``, its out-of-line values right after it."""
        entries, extra = [], b""
        extra_at = offset + 8 + 20 * len(self.tags) + 8
        for code in sorted(self.tags):
            kind, value = self.tags[code]
            type_code, width = _TYPES[kind]
            payload = self._payload(kind, value)
            count = len(payload) // width
            if len(payload) <= 8:
                field = payload.ljust(8, b"\0")
            else:
                field = struct.pack("<Q", extra_at + len(extra))
                extra += payload.ljust(-(-len(payload) // 8) * 8, b"\0")
            entries.append(struct.pack("<HHQ", code, type_code, count) + field)
        return struct.pack("<Q", len(entries)) + b"".join(entries) + struct.pack("<Q", next_ifd) + extra


class CogWriter:
    """Writes a Cloud-Optimized GeoTIFF from tiles of every level.

    Parameters
    ----------
    path : str
        The (local) file to write.
    shapes : list of (int, int)
        ``(height, width)`` of levels ``0 … n`` (each half the one before).
    channels : int
        Bands (pixel-interleaved).
    dtype : numpy.dtype
        Sample type.
    tile : int
        Tile side (a multiple of 16).
    photometric : str
        ``"rgb"`` or ``"minisblack"``.
    compress : str
        One of :data:`COMPRESSIONS` (default ``"deflate"``, lossless).
    geotiff : dict, optional
        The georeferencing tags (see :mod:`tilestream.io.geotiff`) of level 0.
    quality : int
        JPEG quality (``compress="jpeg"``).
    """

    def __init__(
        self, path: str, shapes: list[tuple[int, int]], channels: int, dtype: Any, tile: int, photometric: str,
        compress: str = "deflate", geotiff: dict | None = None, quality: int = 90,
    ):
        if compress not in COMPRESSIONS:
            raise TilestreamError(f"--compress {compress!r} is not one of {', '.join(COMPRESSIONS)}; choose one of those")
        if tile % 16:
            raise TilestreamError(f"COG tiles must be a multiple of 16 pixels, got {tile}; use a --block that is")
        self.path, self.shapes, self.channels, self.tile = path, list(shapes), channels, tile
        self.dtype = np.dtype(dtype)
        self.photometric, self.compress, self.geotiff = photometric, compress, dict(geotiff or {})
        self._encode = _encoder(compress, self.dtype, channels, quality)
        self._grids = [(-(-h // tile), -(-w // tile)) for h, w in self.shapes]
        self._sizes = [np.zeros(r * c, np.uint64) for r, c in self._grids]
        self._offsets = [np.zeros(r * c, np.uint64) for r, c in self._grids]
        self._files = [open(f"{path}.level-{k}", "wb") for k in range(len(self.shapes))]

    def write(self, level: int, ti: int, tj: int, data: np.ndarray) -> None:
        """Compress tile ``(ti, tj)`` of ``level`` (``(h, w, C)``, padded to the tile here)."""
        t = self.tile
        tile = np.zeros((t, t, self.channels), self.dtype.newbyteorder("<"))
        tile[: data.shape[0], : data.shape[1]] = data
        payload = self._encode(tile)
        n = ti * self._grids[level][1] + tj
        fh = self._files[level]
        self._offsets[level][n] = fh.tell()
        self._sizes[level][n] = len(payload)
        fh.write(payload)

    def _ifd(self, level: int) -> _Ifd:
        h, w = self.shapes[level]
        c, kind = self.channels, self.dtype.kind
        base = 3 if self.photometric == "rgb" else 1
        ifd = _Ifd()
        ifd.add(254, "I", 0 if level == 0 else 1)  # NewSubfileType: reduced-resolution image
        ifd.add(256, "I", w)
        ifd.add(257, "I", h)
        ifd.add(258, "H", [self.dtype.itemsize * 8] * c)
        ifd.add(259, "H", COMPRESSIONS[self.compress])
        ycbcr = self.compress == "jpeg" and c == 3
        ifd.add(262, "H", 6 if ycbcr else 2 if self.photometric == "rgb" else 1)
        ifd.add(277, "H", c)
        ifd.add(284, "H", 1)
        ifd.add(322, "I", self.tile)
        ifd.add(323, "I", self.tile)
        n = self._grids[level][0] * self._grids[level][1]
        ifd.add(324, "Q", [0] * n)  # filled in by finish(); the size is what counts here
        ifd.add(325, "Q", [int(v) for v in self._sizes[level]])
        if c > base:
            ifd.add(338, "H", [0] * (c - base))  # ExtraSamples: unspecified
        ifd.add(339, "H", [_SAMPLE_FORMAT[kind]] * c)
        if ycbcr:
            ifd.add(530, "H", [2, 2])  # YCbCrSubSampling
        if level == 0:
            for key, value in self.geotiff.items():
                ifd.add(int(key), GEO_TAGS[int(key)], value)
        return ifd

    def finish(self) -> None:
        """Assemble the file: header, every IFD, then the tiles, smallest level first."""
        missing = [k for k, sizes in enumerate(self._sizes) if (sizes == 0).any()]
        for fh in self._files:
            fh.close()
        if missing:
            raise RuntimeError(f"COG levels {missing} are missing tiles")  # a bug: the pyramid hands out every tile
        ifds = [self._ifd(k) for k in range(len(self.shapes))]
        at = [16]
        for ifd in ifds[:-1]:
            at.append(at[-1] + ifd.size())
        data_at = at[-1] + ifds[-1].size()
        starts: dict[int, int] = {}
        for k in reversed(range(len(self.shapes))):  # the smallest overview's data first
            starts[k] = data_at
            data_at += os.path.getsize(f"{self.path}.level-{k}")
        with open(self.path, "wb") as out:
            out.write(b"II" + struct.pack("<HHHQ", 43, 8, 0, 16))
            for k, ifd in enumerate(ifds):
                kind, _ = ifd.tags[324]
                ifd.tags[324] = (kind, [int(v) + starts[k] for v in self._offsets[k]])
                nxt = at[k + 1] if k + 1 < len(ifds) else 0
                out.write(ifd.pack(at[k], nxt))
            for k in reversed(range(len(self.shapes))):
                name = f"{self.path}.level-{k}"
                with open(name, "rb") as src:
                    out.flush()
                    _append(src, out)
                os.remove(name)

    def discard(self) -> None:
        """Remove the temporary level files."""
        for k, fh in enumerate(self._files):
            fh.close()
            if os.path.exists(f"{self.path}.level-{k}"):
                os.remove(f"{self.path}.level-{k}")
