"""Resuming an interrupted encode: what identifies it, and where to continue.

An encode records in its partial container a *fingerprint* (the SHA-256 of its metadata --
weights' hash, layout, pixel format with the fitted value ranges -- and of the source: its
file's size and modification time, or its zarr chunks' listing, or a numpy array's content
hash, and a sample of its pixels) and, after each finished wavefront step, the step and the band it ran
with. ``encode --resume`` recomputes the fingerprint (a changed source or other weights are
refused, never mixed), checks the CRC of every chunk already written, and restarts the
wavefront after the last finished step -- earlier if a chunk of a finished row fails its
checksum. The tasks whose results the remaining steps read are recomputed
(:func:`~tilestream.schedule.replay_plan`); they rewrite identical bytes.

A serial context (``mbt2018``, ``cheng2020-*``) reads its own row above, and that row the
one above it, back to the first: recomputing it would redo the whole encode up to the
restart. Its held results (the ``ŷ`` of the last finished row of tiles) are therefore saved
with every step (:func:`pack_state`, a ``.npz`` file beside the chunks, removed at the
commit) and restored on resume, so only the rows in flight are redone.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from tilestream.container.schema import ContainerError, ContainerMeta
from tilestream.container.store import ChunkStore
from tilestream.errors import TilestreamError
from tilestream.io.base import Source
from tilestream.schedule import step_of_row
from tilestream.stage import Index, Part, Stage

__all__ = ["chunk_rows", "fingerprint", "pack_state", "resume_point", "source_digest", "stream_bytes", "unpack_state"]

#: windows per side of the pixel sample that identifies a source
_SAMPLES = 8
_SIDE = 64


def _listing(location: Any, local: str | None) -> list[Any]:
    """``(name, size, modification time or ETag)`` of every file under a folder."""
    if local is not None:
        out = []
        for folder, _, files in os.walk(local):
            for name in sorted(files):
                st = os.stat(os.path.join(folder, name))
                out.append([os.path.relpath(os.path.join(folder, name), local), st.st_size, st.st_mtime_ns])
        return sorted(out)
    found = location.fs().find(location.path, detail=True)
    return sorted(
        [k, v.get("size"), str(v.get("ETag") or v.get("mtime") or v.get("LastModified") or "")] for k, v in found.items()
    )


def _identity(src: Source) -> list[Any]:
    """What tells a changed source apart without reading all of it: a TIFF's size and
    modification time; every file of a zarr array (size and time, or ETag); the content
    hash of an in-memory numpy array; the graph token of a dask array."""
    from tilestream.io.arrays import ArraySource, ZarrSource

    try:
        if isinstance(src, ZarrSource):
            if src.path is not None:
                return _listing(None, src.path)
            if src.location is not None:
                return _listing(src.location, None)
            return []
        if isinstance(src, ArraySource):
            array = src.array
            if isinstance(array, np.ndarray):
                digest = hashlib.sha256()
                for y in range(0, array.shape[0], 256):  # no copy of the whole of a strided view
                    digest.update(np.ascontiguousarray(array[y : y + 256]).tobytes())
                return [digest.hexdigest()]
            return [str(getattr(array, "name", ""))]  # dask: the token of its graph
        location = getattr(src, "location", None)
        if location is None:
            return []
        if location.is_local:
            st = os.stat(location.url)
            return [st.st_size, st.st_mtime_ns]
        info = location.fs().info(location.path)
        return [info.get("size"), str(info.get("ETag") or info.get("mtime") or info.get("LastModified") or "")]
    except (OSError, TilestreamError):
        return []


def source_digest(src: Source) -> str:
    """SHA-256 of a source's shape, sample type, identity (:func:`_identity`) and an 8 × 8
    grid of 64² windows of its pixels.

    A file or zarr array rewritten since is always told apart, and so is a numpy array
    changed anywhere; a dask array is identified by its graph (the same computation
    gives the same token) and the sampled windows.
    """
    h, w = src.shape
    head = [list(src.shape), str(np.dtype(src.pixel_format.dtype)), src.channels, *_identity(src)]
    digest = hashlib.sha256(json.dumps(head, default=str).encode())
    for y in np.linspace(0, max(0, h - _SIDE), _SAMPLES).astype(int):
        for x in np.linspace(0, max(0, w - _SIDE), _SAMPLES).astype(int):
            window = src.read(int(y), min(h, int(y) + _SIDE), int(x), min(w, int(x) + _SIDE))
            digest.update(np.ascontiguousarray(window).tobytes())
    return digest.hexdigest()


def fingerprint(meta: ContainerMeta, src: Source, block: int | None = None) -> str:
    """What an encode's output depends on: its metadata (without the writing release), its
    source's pixels and the transform ``block`` when it is smaller than the chunk."""
    attrs = meta.to_attrs()
    attrs.pop("tilestream_version", None)
    if block is not None and block != meta.block:
        attrs["transform_block"] = block
    text = json.dumps(attrs, sort_keys=True, default=str)
    return hashlib.sha256((text + source_digest(src)).encode()).hexdigest()


def chunk_rows(meta: ContainerMeta) -> dict[str, tuple[int, int]]:
    """The chunk grid of every stream."""
    rows, cols = meta.grid_shape
    return {s: tuple(meta.stream_grids.get(s, (rows, cols))) for s in meta.streams}  # type: ignore[misc]


def _elements(store: ChunkStore, meta: ContainerMeta) -> Any:
    """``(stream, i, j, stored element or the error reading it)`` of every chunk (``b""``:
    never written)."""
    import warnings

    from tilestream.container.store import _element

    for stream, (rows, cols) in chunk_rows(meta).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = store._array(stream, "r")
        for i in range(rows):
            for j in range(cols):
                try:
                    yield stream, i, j, _element(arr, i, j, f"chunk {stream}[{i}, {j}]")
                except ContainerError as exc:
                    yield stream, i, j, exc


def _check(stream: str, i: int, j: int, element: bytes | ContainerError) -> bytes:
    from tilestream.container.store import unframe

    if isinstance(element, ContainerError):
        raise element
    return unframe(element, f"chunk {stream}[{i}, {j}]", f"{stream}[{i}, {j}]")


def resume_point(
    store: ChunkStore, meta: ContainerMeta, stages: list[Stage], progress: dict[str, int] | None, band: int
) -> tuple[int, list[str]]:
    """The wavefront step to continue from, and the chunks that failed their checksum.

    Every chunk written so far is read and its CRC checked; a bad chunk in a row that a
    finished step wrote moves the start back to the first step that writes that row.
    """
    start = int(progress["step"]) + 1 if progress else 0
    bad: list[str] = []
    for stream, i, j, element in _elements(store, meta):
        if not element:
            continue
        try:
            _check(stream, i, j, element)
        except ContainerError as exc:
            bad.append(str(exc).split(";")[0])
            start = min(start, step_of_row(stages, i, band))
    return start, bad


def stream_bytes(store: ChunkStore, meta: ContainerMeta) -> int:
    """Coded bytes of every chunk (without framing).

    Raises
    ------
    ContainerError
        If a chunk is missing or fails its checksum.
    """
    total = 0
    for stream, i, j, element in _elements(store, meta):
        total += len(_check(stream, i, j, element))
    return total


def pack_state(step: int, parts: dict[tuple[str, Index], Part]) -> bytes:
    """The held results of the self-reading stages after wavefront step ``step`` as the
    bytes of a ``.npz`` file (every member CRC-checked by zip when read back)."""
    keys = sorted(parts)
    index = {"step": int(step), "parts": [[name, int(i), int(j), int(parts[(name, (i, j))].nbytes)] for name, (i, j) in keys]}
    arrays = {f"p{n}": np.asarray(parts[key].value) for n, key in enumerate(keys)}
    buf = io.BytesIO()
    np.savez(buf, index=np.frombuffer(json.dumps(index).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def unpack_state(data: bytes, step: int, cols: dict[str, int]) -> dict[tuple[str, Index], Part] | None:
    """The parts saved by :func:`pack_state` for ``step``, or ``None`` if the file is
    damaged, of another step, or lacks part of a row (``cols``: columns of each stage);
    the resume then recomputes those rows instead."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            index = json.loads(bytes(npz["index"]).decode())
            if int(index["step"]) != step:
                return None
            out = {
                (str(name), (int(i), int(j))): Part(np.array(npz[f"p{n}"]), int(nbytes))
                for n, (name, i, j, nbytes) in enumerate(index["parts"])
            }
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError):
        return None
    rows: dict[tuple[str, int], int] = {}
    for name, (i, _) in out:
        rows[(name, i)] = rows.get((name, i), 0) + 1
    if any(name not in cols or n != cols[name] for (name, _), n in rows.items()):
        return None
    return out
