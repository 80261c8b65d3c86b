"""The contract of a chunk codec: how one CompressAI model family codes its latent block-wise.

A chunk codec adapts one model family to block-wise coding. It never runs a transform
itself: ``g_a`` / ``h_a`` / ``h_s`` / ``g_s`` run in the pipeline's tasks, and the codec's
tasks receive the tensors of one chunk (``y`` values, ``ẑ`` values, or the entropy
parameters that ``h_s`` produced for exactly that chunk's window, through
:meth:`CodingContext.side_params`). Encoder and decoder call the same codec functions on the
same windows, so the entropy parameters -- and hence the CDF indexes the rANS coder sees --
are computed identically on both sides.

Every codec, whatever its family, answers the same questions:

* :attr:`ChunkCodec.streams` -- the byte streams it writes (``z`` first when there is side
  information), and :attr:`ChunkCodec.phases` -- what each ``y`` stream's coding reads
  around a chunk (for ``tilestream info`` and ``tilestream overlap``);
* :meth:`ChunkCodec.y_stages` -- the stages that code ``y`` (encode) or decode ``ŷ``
  (decode), as :class:`~tilestream.stage.Stage` objects with their dependencies; the
  pipeline puts ``g_a`` / ``h_a`` before them and ``g_s`` after them and never asks which
  family it runs;
* :meth:`ChunkCodec.latent_grid` / :meth:`ChunkCodec.gather` -- the grid of the last ``y``
  stage's results and how to stitch them into ``ŷ`` on any window;
* :meth:`ChunkCodec.stream_grids` and :meth:`ChunkCodec.min_band` -- a stream whose chunks
  are not the block grid's, and how many block rows a wavefront step needs at least.

A new family is one file in this package defining a subclass, plus
:func:`~tilestream.entropy.register_codec`.

**The cross-device guard** (container format 1.4). rANS decodes with the CDF table that
the index of each sample names, and those indexes come from floating-point entropy
parameters (:meth:`GaussianConditional.build_indexes` of the ``h_s`` scales): a decoder
whose arithmetic differs from the encoder's in the last bits (another device, another torch
build; CompressAI issues #279, #309, #320) may pick another table for a sample near a
scale-table boundary, and rANS then decodes garbage without noticing. A codec whose
:attr:`ChunkCodec.index_guard` is true therefore writes, before the rANS bytes of every
``y`` chunk, the CRC-32 of the chunk's CDF index map (int32, little endian, C order of the
index tensor handed to the coder, :func:`index_checksum`), and its decoder recomputes the
indexes, compares, and raises :class:`EntropyMismatchError` -- naming the chunk, the
encoder's device and torch build (:class:`EntropyGuard`, recorded in the container) and this
decoder's -- before the rANS decoder runs.
"""

from __future__ import annotations

import platform
import struct
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from tilestream.assemble import assemble
from tilestream.errors import TilestreamError
from tilestream.geometry import CodecLayout, Window
from tilestream.geometry.shear import RASTER
from tilestream.stage import Grid, Index, Names, Stage

__all__ = [
    "GUARD_BYTES",
    "Z_STREAM",
    "ChunkCodec",
    "ChunkGuard",
    "CodingContext",
    "EntropyGuard",
    "EntropyMismatchError",
    "Phase",
    "Store",
    "chunk_guard",
    "codec_as",
    "index_checksum",
]

#: the stream of the side information ``z``
Z_STREAM = "z"
#: bytes of one index checksum in a chunk's payload
GUARD_BYTES = 4
#: what the checksum of a guarded container is (recorded in ``entropy_guard["checksum"]``)
GUARD_CHECKSUM = "crc32 of the int32 little-endian CDF index map, before the rANS bytes"


class EntropyMismatchError(TilestreamError):
    """The CDF indexes this decoder computes for a chunk differ from the encoder's: its
    arithmetic differs (another device or torch build), and rANS would decode garbage."""


def index_checksum(indexes: Tensor | np.ndarray | list[int], value: int = 0) -> int:
    """CRC-32 of a CDF index map as int32 little endian, in C order (continuing ``value``)."""
    if isinstance(indexes, Tensor):
        indexes = indexes.detach().to("cpu", torch.int32).contiguous().numpy()
    array = np.ascontiguousarray(np.asarray(indexes, dtype="<i4"))
    return zlib.crc32(array.tobytes(), value)


def _device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    return platform.machine() or "unknown machine"


@dataclass(frozen=True)
class EntropyGuard:
    """The arithmetic that encoded a guarded container: its device, the device's name and
    the torch build (recorded as the container's ``entropy_guard`` attribute, format 1.4,
    the build under the key ``"torch"``)."""

    device: str
    device_name: str
    torch_version: str
    checksum: str = GUARD_CHECKSUM

    @classmethod
    def here(cls, device: str | torch.device) -> EntropyGuard:
        """The guard of an encode running on ``device`` in this process."""
        dev = str(torch.device(device))
        return cls(dev, _device_name(dev), torch.__version__)

    def to_attrs(self) -> dict[str, str]:
        """The container attribute."""
        return {"checksum": self.checksum, "device": self.device, "device_name": self.device_name, "torch": self.torch_version}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any] | None) -> EntropyGuard | None:
        """The guard recorded in a container (``None``: a container without guards, < 1.4)."""
        if not attrs:
            return None
        return cls(
            str(attrs.get("device", "?")), str(attrs.get("device_name", "?")), str(attrs.get("torch", "?")),
            str(attrs.get("checksum", GUARD_CHECKSUM)),
        )

    def describe(self) -> str:
        """``"cuda:0 (NVIDIA H200) with torch 2.14.1+cu128"``."""
        return f"{self.device} ({self.device_name}) with torch {self.torch_version}"


@dataclass(frozen=True)
class ChunkGuard:
    """The index checksum(s) of one ``y`` chunk: written before its rANS bytes by the
    encoder, checked by the decoder before its rANS decoder runs.

    Attributes
    ----------
    encoder : EntropyGuard
        The arithmetic that encoded the container.
    chunk : str
        The chunk, as messages name it (``"y/phase-1[3, 4]"``).
    device : str
        The device that runs this coder.
    """

    encoder: EntropyGuard
    chunk: str
    device: str

    def seal(self, data: bytes, *checksums: int) -> bytes:
        """``data`` (rANS bytes) prefixed with ``checksums`` (4 bytes each, little endian)."""
        return struct.pack(f"<{len(checksums)}I", *checksums) + data

    def split(self, data: bytes, count: int = 1) -> tuple[tuple[int, ...], bytes]:
        """The ``count`` recorded checksums of a payload, and its rANS bytes."""
        size = GUARD_BYTES * count
        if len(data) < size:
            from tilestream.container.schema import ContainerError

            raise ContainerError(
                f"chunk {self.chunk} is too short to hold its index checksum ({len(data)} bytes); "
                f"the container is corrupt, re-encode it"
            )
        return struct.unpack(f"<{count}I", data[:size]), data[size:]

    def verify(self, expected: int, indexes: Tensor | np.ndarray | list[int] | int) -> None:
        """Raise :class:`EntropyMismatchError` unless ``indexes`` (or their checksum) match."""
        got = indexes if isinstance(indexes, int) else index_checksum(indexes)
        if got == expected:
            return
        here = EntropyGuard.here(self.device)
        where = self.encoder.describe()
        raise EntropyMismatchError(
            f"chunk {self.chunk}: this decoder's entropy parameters differ from the encoder's "
            f"(CDF index checksum {got:08x}, recorded {expected:08x}), so its arithmetic differs "
            f"(another device or torch build) and rANS would decode garbage; it was encoded on "
            f"{where} and is decoded on {here.describe()}: decode it on {where}, or re-encode "
            f"the image on this device"
        )

    def sealed(self, indexes: Tensor, data: bytes) -> bytes:
        """``data`` prefixed with the checksum of ``indexes`` (one index map per chunk)."""
        return self.seal(data, index_checksum(indexes))

    def open(self, data: bytes, indexes: Tensor) -> bytes:
        """The rANS bytes of a payload, after checking its checksum against ``indexes``."""
        (expected,), rest = self.split(data)
        self.verify(expected, indexes)
        return rest


class Store(Protocol):
    """Chunk bytes of a container (see :class:`~tilestream.container.ChunkStore`)."""

    def read(self, stream: str, i: int, j: int) -> bytes: ...  # pragma: no cover

    def write(self, stream: str, i: int, j: int, data: bytes) -> int: ...  # pragma: no cover


class CodingContext(Protocol):
    """What a codec's tasks use of the pipeline's task context
    (:class:`~tilestream.tasks.CodecContext`)."""

    @property
    def layout(self) -> CodecLayout: ...  # pragma: no cover

    @property
    def device(self) -> str: ...  # pragma: no cover

    @property
    def guard(self) -> EntropyGuard | None: ...  # pragma: no cover

    @property
    def stream_prefix(self) -> str: ...  # pragma: no cover

    @property
    def sample_order(self) -> str: ...  # pragma: no cover

    def codec(self) -> ChunkCodec: ...  # pragma: no cover

    def store(self) -> Store: ...  # pragma: no cover

    def z_window_for(self, window: Window) -> Window: ...  # pragma: no cover

    def side_params(self, window: Window, z_parts: dict[Index, np.ndarray]) -> Tensor: ...  # pragma: no cover


@dataclass(frozen=True)
class Phase:
    """One coded ``y`` stream: its name, a readable phase name, the ``ŷ`` halo it reads
    around its chunk (latent samples; 0: its own chunk only) and what it reads, in words."""

    stream: str
    name: str
    halo: int
    reads: str

    def describe(self) -> dict[str, Any]:
        """The entry recorded in containers and shown by ``info`` / ``overlap``."""
        return {"stream": self.stream, "phase": self.name, "halo": self.halo, "reads": self.reads}


class ChunkCodec(ABC):
    """Entropy coding of latent chunks for one model family.

    Attributes
    ----------
    family : str
        Short name recorded in containers (``"factorized"``, ``"scale-hyperprior"``, ...).
    phases : tuple of Phase
        The coded ``y`` streams in coding order.
    """

    family: str = ""
    phases: tuple[Phase, ...] = ()
    #: whether a ``z`` stream carries side information for ``y``
    has_hyperprior: bool = True
    #: whether ``y`` chunks carry the checksum of their CDF index map (in guarded containers)
    index_guard: bool = False
    #: the order of the samples in a stream that the codec writes, when it has a choice
    #: (recorded in the container when not raster; see :data:`~tilestream.geometry.shear.SAMPLE_ORDERS`)
    sample_order: str = RASTER

    def __init__(self, model: nn.Module):
        self.model = model

    # -- the description -------------------------------------------------------------
    @property
    def streams(self) -> tuple[str, ...]:
        """Names of the coded streams, in coding order (``("z", "y")``)."""
        return ((Z_STREAM,) if self.has_hyperprior else ()) + tuple(p.stream for p in self.phases)

    @property
    def align(self) -> int:
        """Image sizes are padded to a multiple of this (64 with a hyperprior, else 16)."""
        return 64 if self.has_hyperprior else 16

    @property
    def has_context(self) -> bool:
        """True when coding a chunk reads decoded ``ŷ`` of other chunks (a context model)."""
        return any(p.halo > 0 for p in self.phases)

    def describe(self) -> list[dict[str, Any]]:
        """The coding phases, recorded in containers, for ``info`` and ``overlap``."""
        return [p.describe() for p in self.phases]

    @abstractmethod
    def y_stages(self, ctx: CodingContext, encoding: bool) -> list[Stage]:
        """The stages that code ``y`` (``encoding``) or decode ``ŷ``.

        They read ``g_a`` output from stage :attr:`Names.Y` (encode) and ``ẑ`` from
        :meth:`hyper_stage`; the last stage's results (decode) are ``ŷ`` parts on
        :meth:`latent_grid`, which ``g_s`` reads.
        """

    @staticmethod
    def hyper_stage(encoding: bool) -> str:
        """The stage whose results are ``ẑ`` chunks."""
        return Names.Z if encoding else Names.ZHAT

    def latent_grid(self, layout: CodecLayout) -> Grid:
        """Grid of the decoded ``ŷ`` parts (the block grid of ``y`` by default)."""
        return layout.y_grid

    def gather(self, layout: CodecLayout, parts: dict[Index, np.ndarray], window: Window) -> np.ndarray:
        """``ŷ`` on ``window`` from decoded parts of :meth:`latent_grid` (zero outside)."""
        return assemble(parts, layout.y_grid, window)

    def stream_grids(self, layout: CodecLayout) -> dict[str, list[int]]:
        """Streams whose chunk grid is not the block grid (recorded in containers)."""
        return {}

    def min_band(self, workers: int) -> int:
        """Block rows a wavefront step runs at least (1; more for serial contexts)."""
        return 1

    # -- z (side information), the same for every family with a hyperprior -----------
    def hyper_input(self, y: Tensor) -> Tensor:
        """What ``h_a`` reads, computed sample by sample from ``y`` (identity by default)."""
        return y

    def _bottleneck(self) -> Any:
        """The entropy bottleneck of ``z``: on the model, or in ``latent_codec["hyper"]``."""
        if not self.has_hyperprior:
            raise NotImplementedError(f"{self.family} has no z stream")
        eb = getattr(self.model, "entropy_bottleneck", None)
        return eb if eb is not None else self.model.latent_codec["hyper"].entropy_bottleneck

    def encode_z(self, z: Tensor) -> tuple[bytes, Tensor]:
        """Code one ``z`` chunk; return its bytes and the decoded ``ẑ`` (bit-exact)."""
        eb = self._bottleneck()
        (data,) = eb.compress(z)
        return data, eb.decompress([data], tuple(z.shape[-2:]))

    def decode_z(self, data: bytes, shape: tuple[int, int]) -> Tensor:
        """Decode one ``z`` chunk of spatial ``shape`` into ``ẑ`` ``(1, C, h, w)``."""
        return self._bottleneck().decompress([data], shape)


C = TypeVar("C", bound=ChunkCodec)


def chunk_guard(ctx: CodingContext, stream: str, i: int, j: int) -> ChunkGuard | None:
    """The guard of chunk ``(i, j)`` of ``stream`` (``None``: the container has no guards,
    or the codec writes none)."""
    guard = getattr(ctx, "guard", None)
    if guard is None or not ctx.codec().index_guard:
        return None
    return ChunkGuard(guard, f"{getattr(ctx, 'stream_prefix', '')}{stream}[{i}, {j}]", str(ctx.device))


def codec_as(ctx: CodingContext, kind: type[C]) -> C:
    """The context's codec, which a codec's own tasks know to be of ``kind``."""
    codec = ctx.codec()
    if not isinstance(codec, kind):  # pragma: no cover - stages come from the codec itself
        raise TypeError(f"{type(codec).__name__} is not a {kind.__name__}")
    return codec
