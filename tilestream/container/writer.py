"""Create a container, fill it chunk by chunk, and commit it atomically.

Local folders and ``.zip`` files are written under ``PATH.partial`` and moved into place
when complete. On object storage (any fsspec URL) nothing can be renamed atomically, so the
container is written in place with ``complete: false`` in its ``zarr.json``; :meth:`commit`
rewrites that one object with ``complete: true`` last, and every reader refuses a container
that does not say so. Either way a reader never sees a container that looks finished before
it is.

The partial container also records a ``fingerprint`` of the source and the weights and, after
every finished wavefront step, ``progress`` (the step and the bytes written so far), which is
what ``encode --resume`` continues from.
"""

from __future__ import annotations

import os
import shutil
import warnings
import zipfile
from typing import Any

from tilestream.container.schema import ContainerError, ContainerMeta
from tilestream.container.store import ChunkStore, vlen_bytes_dtype
from tilestream.storage import Location, StorageError

__all__ = ["STATE_FOLDER", "ContainerWriter", "partial_location"]

#: folder of a partial container holding the resume state of serial contexts
STATE_FOLDER = "resume"


def partial_location(location: Location) -> Location:
    """Where the container for ``location`` is written until it is complete."""
    return location.with_suffix(".partial") if location.is_local else location


def _group(location: Location, mode: str) -> Any:
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_group(location.zarr_store(read_only=mode == "r"), mode=mode, zarr_format=3)


class ContainerWriter:
    """Writes a container to ``path`` (a folder, a single local ``.zip`` file, or a URL).

    Parameters
    ----------
    path : str, os.PathLike or Location
        The container to write.
    meta : ContainerMeta
        Its metadata.
    fingerprint : str
        Identifies the source, weights and settings (checked by :meth:`resume`).
    storage_options : dict, optional
        fsspec options for a URL.
    """

    def __init__(self, path: Any, meta: ContainerMeta, fingerprint: str = "", storage_options: dict | None = None, *, _resume: bool = False):
        self.location = Location.of(path, storage_options)
        self.path = self.location.url
        self.meta = meta
        self.fingerprint = fingerprint
        if not self.location.is_local and self.path.endswith(".zip"):
            raise StorageError(
                f"container {self.path!r}: a .zip container is written on local disks only; "
                f"give a folder URL (without .zip) for object storage"
            )
        self.tmp_location = partial_location(self.location)
        self.tmp = self.tmp_location.url
        #: ``{"step": int, "bytes": int}`` of a resumed partial container, else ``None``
        self.progress: dict[str, Any] | None = None
        self._state: tuple[int, str] | None = None  # (step, file) of the last saved resume state
        self._published: str | None = None  # the state file the recorded progress points to
        ChunkStore.forget(self.tmp)  # handles of an earlier container at this place
        if _resume:
            return
        self.tmp_location.remove()
        if not self.location.is_local:
            self.location.remove()  # an overwritten container: gone before the new one starts
        group = self._handle = _group(self.tmp_location, "w")
        attrs = meta.to_attrs()
        attrs["complete"] = False
        attrs["fingerprint"] = fingerprint
        group.update_attributes(attrs)  # one write, not one per key
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
        self.store = ChunkStore(self.tmp_location)

    @classmethod
    def resume(cls, path: Any, meta: ContainerMeta, fingerprint: str, storage_options: dict | None = None) -> ContainerWriter:
        """Reopen the partial container of an interrupted encode to ``path``.

        Its metadata and fingerprint must equal what this encode would write.

        Raises
        ------
        ContainerError
            If there is no partial container, it is complete already, or it was made from
            another source, other weights or other settings.
        """
        writer = cls(path, meta, fingerprint, storage_options, _resume=True)
        where = writer.tmp
        try:
            attrs = dict(_group(writer.tmp_location, "r").attrs)
        except Exception as exc:  # zarr raises several types for "no group here"
            raise ContainerError(
                f"nothing to resume: no partial container at {where!r} ({type(exc).__name__}); "
                f"run the encode without --resume"
            ) from exc
        if attrs.get("complete") is True:
            raise ContainerError(
                f"nothing to resume: {where!r} is complete already; use it, or pass --overwrite "
                f"instead of --resume to encode again"
            )
        if attrs.get("fingerprint") != fingerprint:
            raise ContainerError(
                f"cannot resume {where!r}: it was started from another source, other weights or "
                f"other settings (fingerprint {str(attrs.get('fingerprint'))[:12]}… ≠ "
                f"{fingerprint[:12]}…); run without --resume (and with --overwrite) to start over"
            )
        expected = meta.to_attrs()
        for key in ("image_shape", "streams", "block", "model", "pixel_format", "stream_grids"):
            if attrs.get(key) != expected.get(key):
                raise ContainerError(
                    f"cannot resume {where!r}: its {key} differs from this encode's; run without "
                    f"--resume (and with --overwrite) to start over"
                )
        writer._handle = _group(writer.tmp_location, "r+")
        progress = attrs.get("progress")
        writer.progress = dict(progress) if isinstance(progress, dict) else None
        writer._published = writer.progress.get("state") if writer.progress else None
        writer.store = ChunkStore(writer.tmp_location)
        return writer

    def record_state(self, step: int, data: bytes) -> None:
        """Save the resume state of wavefront step ``step`` (see
        :func:`~tilestream.pipeline.resume.pack_state`); :meth:`record_progress` of the same
        step then points to it."""
        name = f"{STATE_FOLDER}/state-{int(step)}.npz"
        self.tmp_location.join(*name.split("/")).write_bytes(data)
        self._state = (int(step), name)

    def read_state(self) -> bytes | None:
        """The resume state that the recorded progress points to, if any."""
        name = (self.progress or {}).get("state")
        if not isinstance(name, str) or not name.startswith(f"{STATE_FOLDER}/state-"):
            return None
        try:
            return self.tmp_location.join(*name.split("/")).read_bytes()
        except (OSError, StorageError):
            return None

    def record_progress(self, step: int, nbytes: int, band: int) -> None:
        """Record that every task of wavefront steps ``0 … step`` (of ``band`` rows each) is
        written, ``nbytes`` in all (and the resume state saved for that step, if any)."""
        progress: dict[str, Any] = {"step": int(step), "bytes": int(nbytes), "band": int(band)}
        state = self._state
        if state is not None and state[0] == int(step):
            progress["state"] = state[1]
        self._handle.attrs["progress"] = progress
        previous = self._published
        if previous is not None and previous != progress.get("state"):
            self.tmp_location.join(*previous.split("/")).remove()  # after the attrs moved on
        self._published = progress.get("state")

    def commit(self, extra: dict | None = None) -> None:
        """Mark the container complete (last) and move it to its final path."""
        group = self._handle
        attrs = dict(group.attrs)
        attrs.pop("progress", None)
        attrs.update(extra or {})
        attrs["complete"] = True
        ChunkStore.forget(self.tmp)
        if not self.location.is_local:  # in place: the complete flag is the commit
            self.tmp_location.join(STATE_FOLDER).remove()
            group.attrs.put(attrs)
            return
        self.tmp_location.join(STATE_FOLDER).remove()
        group.attrs.put(attrs)
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
        self.tmp_location.remove()
