"""The container's metadata schema (format 1.x), validated on read.

A container is a zarr v3 group whose attributes hold :class:`ContainerMeta` (plus a
``complete`` flag written last, and the coded size) and whose arrays hold one
variable-length byte string per latent chunk (see the README's "The container" section).

Versions: 1.0 (single-stream families), 1.1 (adds ``phases`` and ``stream_grids`` for
context models), 1.2 (adds ``pixel_format`` and ``source_metadata``), 1.3 (adds
``pixel_format["model_channels"]``, the band group size, and ``pixel_format["transfer"]``,
the per-band curves), 1.4 (adds ``entropy_guard``: every ``y`` chunk's bytes start with the
checksum of its CDF index map, and the attribute records the encoder's device and torch
build; see :mod:`tilestream.entropy.base`). A minor version only adds; a reader reads every
older version and refuses a newer one (whose additions it cannot know the meaning of) with
one line naming the format and the release that reads it. Until 1.4 a container was
written with the oldest version that held it (3 model channels and linear curves: 1.2);
since every new container carries the position-bound checksums below, every new container
is 1.4, and the releases before 1.4 refuse it in one line.

1.4 also adds ``checksum: "crc32-pos"``: each chunk's CRC-32 is seeded with its stream and
position (``"b1/y[3, 4]"``), so a chunk moved to another position fails its checksum, and
``meta_crc32``, the CRC-32 of the metadata attributes, so damaged metadata is refused
instead of decoding garbage. Every new container uses them, so every new container is 1.4.

1.5 adds ``sample_order: "wavefront"`` for the serial-context families (mbt2018,
cheng2020-*): the samples of a sheared tile are in its stream in wavefront steps (see
:func:`~tilestream.geometry.shear.wavefront_steps`) instead of raster order, so a decoder
reads a step's symbols with one call. Only those containers are 1.5 (the attribute is absent
from the others, which stay 1.4); releases before 1.5 refuse them in one line.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from tilestream.errors import TilestreamError
from tilestream.geometry.shear import RASTER, SAMPLE_ORDERS, WAVEFRONT
from tilestream.pixels import PixelFormat

__all__ = ["FORMAT", "FORMAT_VERSION", "POSITIONAL_CRC", "ContainerError", "ContainerMeta", "format_version_for", "meta_crc32"]

FORMAT = "tilestream"
#: ``major.minor``: readers refuse another major version
FORMAT_VERSION = "1.5"


#: the chunk checksum of new containers (1.4): CRC-32 seeded with the chunk's stream and position
POSITIONAL_CRC = "crc32-pos"


def format_version_for(
    fmt: PixelFormat, guarded: bool = False, checksum: str = POSITIONAL_CRC, sample_order: str = RASTER
) -> str:
    """The oldest container format that records ``fmt`` (and, ``guarded``, the index
    checksums of the cross-device guard; the position-bound ``checksum`` of every new
    container is 1.4 too; a wavefront ``sample_order`` is 1.5)."""
    if sample_order == WAVEFRONT:
        return "1.5"
    if guarded or checksum == POSITIONAL_CRC:
        return "1.4"
    return "1.3" if fmt.transfer is not None or fmt.model_channels != 3 else "1.2"


def _version_key(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


class ContainerError(TilestreamError):
    """A container is missing, incomplete, corrupt, from a newer format, or mismatched."""


@dataclass
class ContainerMeta:
    """Everything a decoder needs besides the chunk bytes."""

    model: dict[str, Any]
    image_shape: tuple[int, int]
    channels: int
    block: int
    align: int
    padded_shape: tuple[int, int]
    y_shape: tuple[int, int]
    z_shape: tuple[int, int]
    grid_shape: tuple[int, int]
    streams: tuple[str, ...]
    halos: dict[str, list[int]]
    source_layout: str = "YXS"
    dtype: str = "uint8"
    padding: str = "replicate-bottom-right"
    checksum: str = POSITIONAL_CRC
    tilestream_version: str = ""
    format: str = FORMAT
    format_version: str = FORMAT_VERSION
    #: grid of a stream whose chunks are not the block grid's (sheared tiles: ``{"y": [rows, cols]}``)
    stream_grids: dict[str, list[int]] = field(default_factory=dict)
    #: the coding phases of ``y`` (what each stream reads), for ``tilestream info``
    phases: list[dict[str, Any]] = field(default_factory=list)
    #: the pixel format (1.2; older containers: derived from ``dtype`` and ``channels``)
    pixel_format: dict[str, Any] = field(default_factory=dict)
    #: source metadata written back by sinks (1.2: ``{"geotiff": {tag: value}}``)
    source_metadata: dict[str, Any] = field(default_factory=dict)
    #: the cross-device guard (1.4): how ``y`` chunks carry their index checksum, and the
    #: encoder's ``device``, ``device_name`` and ``torch`` build; empty: no guard
    entropy_guard: dict[str, Any] = field(default_factory=dict)
    #: the order of the samples in a serial-context tile's stream (1.5: ``"wavefront"``;
    #: ``"raster"``: before 1.5, and every family without a serial context; not written
    #: when raster, so those containers stay 1.4)
    sample_order: str = RASTER

    def pixels(self) -> PixelFormat:
        """The image's :class:`~tilestream.pixels.PixelFormat`."""
        if self.pixel_format:
            return PixelFormat.from_attrs(self.pixel_format)
        return PixelFormat.for_samples(self.dtype, self.channels)

    def to_attrs(self) -> dict[str, Any]:
        """JSON-ready attributes."""
        attrs = asdict(self)
        for key in ("image_shape", "padded_shape", "y_shape", "z_shape", "grid_shape", "streams"):
            attrs[key] = list(attrs[key])
        if self.sample_order == RASTER:
            del attrs["sample_order"]  # containers without it read as before 1.5
        if self.checksum == POSITIONAL_CRC:
            attrs["meta_crc32"] = meta_crc32(attrs)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any], where: str) -> ContainerMeta:
        """Validate and parse attributes read from ``where``."""
        if attrs.get("format") != FORMAT:
            raise ContainerError(
                f"{where} is not a tilestream container (format={attrs.get('format')!r}); "
                f"pass a file written by 'tilestream encode'"
            )
        version = str(attrs.get("format_version", ""))
        try:
            key = _version_key(version)
        except ValueError:
            raise ContainerError(f"{where} has container format {version!r}, which no tilestream writes; re-encode it") from None
        if key[0] != _version_key(FORMAT_VERSION)[0] or key > _version_key(FORMAT_VERSION):
            raise ContainerError(
                f"{where} uses container format {version}, but this tilestream reads formats up to "
                f"{FORMAT_VERSION}; upgrade tilestream to a release that reads format {version} to read it"
            )
        _check_meta_crc(attrs, key, where)
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in attrs.items() if k in known}
        try:
            meta = cls(**values)
            meta.pixels()
        except (TypeError, KeyError, ValueError) as exc:
            raise ContainerError(f"{where} has incomplete metadata ({exc}); re-encode it") from exc
        if meta.sample_order not in SAMPLE_ORDERS:
            raise ContainerError(
                f"{where} has sample order {meta.sample_order!r}, which this tilestream does not know "
                f"(it knows {', '.join(repr(o) for o in SAMPLE_ORDERS)}); its metadata is damaged, re-encode it"
            )
        for key in ("image_shape", "padded_shape", "y_shape", "z_shape", "grid_shape"):
            setattr(meta, key, tuple(int(v) for v in getattr(meta, key)))
        meta.streams = tuple(meta.streams)
        return meta


def meta_crc32(attrs: dict[str, Any]) -> int:
    """CRC-32 of the :class:`ContainerMeta` fields among ``attrs`` (canonical JSON).

    Parameters
    ----------
    attrs : dict
        Container attributes (as written, or as read back: JSON round-trips them exactly).
    """
    body = {k: attrs[k] for k in sorted(ContainerMeta.__dataclass_fields__) if k in attrs}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=lambda o: o.item() if hasattr(o, "item") else str(o))
    return zlib.crc32(text.encode())


def _check_meta_crc(attrs: dict[str, Any], version: tuple[int, int], where: str) -> None:
    """Refuse damaged metadata of a container with position-bound checksums (1.4)."""
    checksum = attrs.get("checksum", "crc32")
    if checksum not in ("crc32", POSITIONAL_CRC) or (version >= (1, 4) and checksum != POSITIONAL_CRC):
        raise ContainerError(
            f"{where} has chunk checksum {checksum!r}, which format {'.'.join(map(str, version))} does not "
            f"use; its metadata (zarr.json) is damaged, re-encode it"
        )
    if checksum == POSITIONAL_CRC and attrs.get("meta_crc32") != meta_crc32(attrs):
        raise ContainerError(
            f"{where}: its metadata (zarr.json attributes) fails its CRC-32 checksum; the "
            f"container is corrupt, re-encode it"
        )
