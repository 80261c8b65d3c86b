"""The on-disk format: a zarr v3 group of per-chunk bitstreams plus versioned metadata."""

from tilestream.container.reader import ContainerReader
from tilestream.container.schema import FORMAT, FORMAT_VERSION, ContainerError, ContainerMeta
from tilestream.container.store import ChunkStore
from tilestream.container.writer import ContainerWriter

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ChunkStore",
    "ContainerError",
    "ContainerMeta",
    "ContainerReader",
    "ContainerWriter",
]
