"""Create a container, fill it chunk by chunk, and commit it atomically."""

from __future__ import annotations

import os
import shutil
import warnings
import zipfile

from tilestream.container.schema import ContainerMeta
from tilestream.container.store import ChunkStore, vlen_bytes_dtype

__all__ = ["ContainerWriter"]


class ContainerWriter:
    """Writes a container to ``path`` (a folder, or a single ``.zip`` file).

    Chunks go to a temporary folder ``path.partial-PID`` whose attributes say
    ``complete: false``; :meth:`commit` sets ``complete: true`` last and moves (or zips)
    the folder into place; :meth:`abort` removes it.
    """

    def __init__(self, path: str, meta: ContainerMeta):
        import zarr

        self.path = os.fspath(path)
        self.meta = meta
        self.tmp = f"{self.path}.partial-{os.getpid()}"
        if os.path.lexists(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        group = zarr.open_group(self.tmp, mode="w", zarr_format=3)
        attrs = meta.to_attrs()
        attrs["complete"] = False
        group.attrs.update(attrs)
        rows, cols = meta.grid_shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for stream in meta.streams:
                group.create_array(
                    stream,
                    shape=tuple(meta.stream_grids.get(stream, (rows, cols))),
                    chunks=(1, 1),
                    dtype=vlen_bytes_dtype(),
                    compressors=None,
                    fill_value=b"",
                )
        self.store = ChunkStore(self.tmp)

    def commit(self, extra: dict | None = None) -> None:
        """Mark the container complete (last) and move it to its final path."""
        import zarr

        group = zarr.open_group(self.tmp, mode="r+")
        if extra:
            group.attrs.update(extra)
        group.attrs["complete"] = True
        ChunkStore.forget(self.tmp)
        if os.path.isdir(self.path):
            shutil.rmtree(self.path)
        elif os.path.lexists(self.path):
            os.remove(self.path)
        if self.path.endswith(".zip"):
            partial_zip = f"{self.tmp}.zip"
            with zipfile.ZipFile(partial_zip, "w", zipfile.ZIP_STORED) as zf:
                for folder, _, files in os.walk(self.tmp):
                    for name in sorted(files):
                        full = os.path.join(folder, name)
                        zf.write(full, os.path.relpath(full, self.tmp))
            os.replace(partial_zip, self.path)
            shutil.rmtree(self.tmp)
        else:
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Remove everything written so far."""
        ChunkStore.forget(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)
