"""Open a container: validate format, version and completeness; read verified chunks."""

from __future__ import annotations

import os
import warnings
import zipfile
from typing import Any

from tilestream.container.schema import ContainerError, ContainerMeta
from tilestream.container.store import ChunkStore

__all__ = ["ContainerReader"]


class ContainerReader:
    """A container opened for reading (a folder or a ``.zip`` file).

    Raises
    ------
    ContainerError
        If ``path`` is missing, not a tilestream container, of an unknown major format
        version, or incomplete.
    """

    def __init__(self, path: str):
        import zarr

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ContainerError(f"container {self.path!r} does not exist; check the path")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if os.path.isfile(self.path):
                    if not zipfile.is_zipfile(self.path):
                        raise ContainerError(
                            f"{self.path!r} is not a tilestream container (neither a zarr "
                            f"folder nor a .zip); pass a file written by 'tilestream encode'"
                        )
                    from zarr.storage import ZipStore

                    group = zarr.open_group(ZipStore(self.path, mode="r"), mode="r")
                else:
                    group = zarr.open_group(self.path, mode="r")
            attrs: dict[str, Any] = dict(group.attrs)
        except ContainerError:
            raise
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
        self.store = ChunkStore(self.path)

    def read(self, stream: str, i: int, j: int) -> bytes:
        """Verified bytes of chunk ``(i, j)`` of ``stream``."""
        return self.store.read(stream, i, j)

    def nbytes(self) -> int:
        """Total bytes of all chunk bitstreams (without framing and metadata)."""
        return int(self.attrs.get("stream_bytes", 0))

    def close(self) -> None:
        """Release cached array handles."""
        ChunkStore.forget(self.path)
