"""Check every chunk's checksum of a container without decoding it.

:func:`verify` opens a container (its metadata is validated, and its metadata checksum
checked, on opening), then reads every chunk of every stream and checks its CRC-32 -- bound
to the chunk's stream and position in format 1.4, so chunks moved between positions are
found too. No weights are needed and nothing reaches the entropy decoder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tilestream.container.reader import ContainerReader
from tilestream.container.schema import ContainerError, ContainerMeta

__all__ = ["DamagedChunk", "VerifyReport", "stream_grid", "verify"]


@dataclass(frozen=True)
class DamagedChunk:
    """One chunk that cannot be used.

    Attributes
    ----------
    stream : str
        The stream's full name (``"y"``, ``"b1/y/phase-0"``, ``"mask"``).
    index : tuple of int
        ``(i, j)`` in the stream's chunk grid.
    reason : str
        The one-line error reading it gave.
    """

    stream: str
    index: tuple[int, int]
    reason: str

    @property
    def name(self) -> str:
        """``"stream[i, j]"``, as error messages name chunks."""
        return f"{self.stream}[{self.index[0]}, {self.index[1]}]"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"chunk": self.name, "stream": self.stream, "index": list(self.index), "reason": self.reason}


@dataclass
class VerifyReport:
    """What :func:`verify` found.

    Attributes
    ----------
    path : str
        The container.
    chunks : int
        Chunks checked.
    damaged : list of DamagedChunk
        Chunks that are missing, truncated, unreadable or fail their checksum.
    format_version : str
        The container's format version.
    position_bound : bool
        Whether checksums are bound to chunk positions (format 1.4), so that moved chunks
        are found too.
    """

    path: str
    chunks: int = 0
    damaged: list[DamagedChunk] = field(default_factory=list)
    format_version: str = ""
    position_bound: bool = False

    @property
    def ok(self) -> bool:
        """No damaged chunk."""
        return not self.damaged

    def to_json(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "path": self.path,
            "format_version": self.format_version,
            "position_bound_checksums": self.position_bound,
            "chunks": self.chunks,
            "damaged": [d.to_json() for d in self.damaged],
        }

    def summary(self, limit: int = 8) -> str:
        """One line: ``"N chunks verified"`` or the damaged chunks (the first ``limit``)."""
        if self.ok:
            return f"{self.path}: {self.chunks} chunks verified, all checksums match"
        names = ", ".join(f"{d.name} ({_short(d.reason)})" for d in self.damaged[:limit])
        more = f" and {len(self.damaged) - limit} more" if len(self.damaged) > limit else ""
        return (
            f"{self.path}: {len(self.damaged)} of {self.chunks} chunks damaged: {names}{more}; "
            f"re-encode it, or decode the rest with --on-damage fill"
        )


def _short(reason: str) -> str:
    """The part of a chunk error after its name and before the advice."""
    text = reason.split(": ", 1)[-1] if reason.startswith("chunk ") and ": " in reason[:80] else reason
    if text.startswith("chunk "):
        text = text.split("] ", 1)[-1]
    return text.split("; ")[0]


def stream_grid(meta: ContainerMeta, stream: str) -> tuple[int, int]:
    """Chunk grid ``(rows, cols)`` of ``stream`` (its own, or the block grid)."""
    rows, cols = meta.stream_grids.get(stream, meta.grid_shape)
    return int(rows), int(cols)


def verify(path: str | os.PathLike[str], storage_options: dict | None = None) -> VerifyReport:
    """Check the checksum of every chunk of a container, without decoding.

    Parameters
    ----------
    path : path or URL
        A container written by :func:`tilestream.encode` (local, or on any fsspec storage).
    storage_options : dict, optional
        fsspec options for a URL.

    Returns
    -------
    VerifyReport
        The chunks checked and the damaged ones (empty when all is well).

    Raises
    ------
    ContainerError
        If the container cannot be opened at all: missing, not a container, damaged or
        missing metadata, an unknown format version, or incomplete.
    """
    with ContainerReader(path, storage_options) as reader:
        meta = reader.meta
        report = VerifyReport(reader.path, format_version=meta.format_version, position_bound=meta.checksum == "crc32-pos")
        for stream in meta.streams:
            if not isinstance(stream, str) or not stream:
                raise ContainerError(f"{reader.path!r} names a stream {stream!r}; its metadata is damaged, re-encode it")
            rows, cols = stream_grid(meta, stream)
            for i in range(rows):
                for j in range(cols):
                    report.chunks += 1
                    try:
                        reader.read(stream, i, j)
                    except ContainerError as exc:
                        report.damaged.append(DamagedChunk(stream, (i, j), str(exc)))
    return report
