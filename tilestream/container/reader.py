"""Open a container: validate format, version and completeness; read verified chunks."""

from __future__ import annotations

import os
import warnings
import zipfile
from typing import Any

from tilestream.container.schema import ContainerError, ContainerMeta
from tilestream.container.store import ChunkStore
from tilestream.errors import TilestreamError
from tilestream.io import geotiff
from tilestream.pixels import PixelFormat
from tilestream.storage import Location

__all__ = ["ContainerReader"]


def _open_group(location: Location) -> Any:
    import zarr

    path = location.url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not location.is_local:
            return zarr.open_group(location.zarr_store(read_only=True), mode="r")
        # Read access is checked here, before zarr: zarr reads its metadata documents
        # concurrently, and when the first one fails the others' errors are logged by asyncio
        # at exit (a traceback after our one-line message).
        probe = path if os.path.isfile(path) else os.path.join(path, "zarr.json")
        if os.path.exists(probe):
            with open(probe, "rb"):  # raises PermissionError, reported by the caller
                pass
        if os.path.isfile(path):
            if not zipfile.is_zipfile(path):
                raise ContainerError(
                    f"{path!r} is not a tilestream container (neither a zarr folder nor a "
                    f".zip); pass a file written by 'tilestream encode'"
                )
            from zarr.storage import ZipStore

            return zarr.open_group(ZipStore(path, mode="r"), mode="r")
        return zarr.open_group(path, mode="r")


class ContainerReader:
    """A container opened for reading (a folder, a ``.zip`` file, or a URL on any fsspec
    storage with ``storage_options``).

    Use it as a context manager, or call :meth:`close`, to release the cached chunk
    array handles.

    Raises
    ------
    ContainerError
        If ``path`` is missing, unreadable, not a tilestream container, of an unknown
        major format version, or incomplete.
    """

    def __init__(self, path: str | os.PathLike[str] | Location, storage_options: dict[str, Any] | None = None):
        self.location = Location.of(path, storage_options)
        self.path = self.location.url
        if not self.location.exists():
            raise ContainerError(f"container {self.path!r} does not exist; check the path")
        try:
            attrs: dict[str, Any] = dict(_open_group(self.location).attrs)
        except TilestreamError:  # a ContainerError, or storage that cannot be reached
            raise
        except PermissionError as exc:
            raise ContainerError(
                f"container {self.path!r} cannot be read (permission denied: "
                f"{exc.filename or self.path}); check its permissions (e.g. chmod -R u+r)"
            ) from exc
        except Exception as exc:  # zarr raises several types for "not a group"
            raise ContainerError(
                f"{self.path!r} is not a tilestream container ({type(exc).__name__}); pass a "
                f"file written by 'tilestream encode'"
            ) from exc
        self.meta = ContainerMeta.from_attrs(attrs, repr(self.path))
        if attrs.get("complete") is not True:
            raise ContainerError(
                f"container {self.path!r} is incomplete (its encode did not finish); encode "
                f"the image again"
            )
        self.attrs = attrs
        self.store = ChunkStore(self.location)

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, stream: str, i: int, j: int) -> bytes:
        """Verified bytes of chunk ``(i, j)`` of ``stream``."""
        return self.store.read(stream, i, j)

    def close(self) -> None:
        """Release cached array handles of this container in this process."""
        ChunkStore.forget(self.path)

    # -- what the container says about itself -----------------------------------------
    @property
    def pixel_format(self) -> PixelFormat:
        """How decoded samples are formed (dtype, channels, value range, nodata)."""
        return self.meta.pixels()

    @property
    def stream_bytes(self) -> int:
        """Total bytes of all chunk bitstreams (without framing and metadata)."""
        value = self.attrs.get("stream_bytes", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ContainerError(
                f"container {self.path!r} records stream_bytes {value!r}, not a byte count; its "
                f"metadata (zarr.json) is damaged, re-encode it"
            )
        return value

    @property
    def bpp(self) -> float:
        """Bits per pixel of the chunk bitstreams."""
        h, w = self.meta.image_shape
        return self.stream_bytes * 8 / (h * w)

    @property
    def weights_origin(self) -> str:
        """Where the weights came from, in words."""
        model = self.meta.model
        if model.get("bundled"):
            return "bundled default"
        if model.get("pretrained"):
            return "CompressAI published weights"
        if model.get("checkpoint"):
            return f"checkpoint {model['checkpoint']}"
        return "weights given in Python"

    def summary(self) -> dict[str, Any]:
        """Everything ``tilestream info`` shows, JSON-ready."""
        meta = self.meta
        fmt = self.pixel_format
        h, w = meta.image_shape
        return {
            "path": self.path,
            "format_version": meta.format_version,
            "tilestream_version": meta.tilestream_version,
            "shape": list(fmt.image_shape(h, w)),
            "channels": fmt.channels,
            "dtype": fmt.dtype,
            "band_groups": [list(g) for g in fmt.band_groups()],
            "pixel_format": fmt.to_attrs(),
            "model": meta.model,
            "weights_origin": self.weights_origin,
            "bytes": self.stream_bytes,
            "bpp": self.bpp,
            "block": meta.block,
            "chunk_grid": list(meta.grid_shape),
            "streams": list(meta.streams),
            "padded_shape": list(meta.padded_shape),
            "latent_shape": list(meta.y_shape),
            "hyper_shape": list(meta.z_shape),
            "halos": meta.halos,
            "phases": [
                {**p, "grid": meta.stream_grids.get(str(p["stream"]), list(meta.grid_shape))}
                for p in meta.phases
            ],
            "stream_grids": meta.stream_grids,
            "sample_order": meta.sample_order if meta.model.get("family") == "autoregressive" else None,
            "georeferenced": "geotiff" in meta.source_metadata,
            "crs_epsg": geotiff.epsg(meta.source_metadata.get("geotiff", {})),
            "pixel_size": geotiff.pixel_size(meta.source_metadata.get("geotiff", {})),
        }
