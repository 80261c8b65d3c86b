"""The contract of a chunk codec: one latent chunk ↔ one rANS byte stream.

A chunk codec adapts one CompressAI model family to block-wise coding. It never runs a
transform itself: the pipeline runs ``h_a`` / ``h_s`` block-wise and hands the codec the
tensors of one chunk (``y`` values, ``z`` values, or the entropy parameters that ``h_s``
produced for exactly that chunk's window). Encoder and decoder call the same codec methods
on the same windows, so the entropy parameters -- and hence the CDF indexes the rANS coder
sees -- are computed identically on both sides.

Implementations: :class:`~tilestream.entropy.factorized.FactorizedCodec`,
:class:`~tilestream.entropy.hyperprior.ScaleHyperpriorCodec`,
:class:`~tilestream.entropy.hyperprior.MeanScaleHyperpriorCodec`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

__all__ = ["ChunkCodec"]


class ChunkCodec(ABC):
    """Entropy coding of latent chunks for one model family.

    Attributes
    ----------
    family : str
        Short name recorded in containers (``"factorized"``, ``"scale-hyperprior"``, ...).
    streams : tuple of str
        Names of the coded streams, in coding order (``("z", "y")``).
    """

    family: str = ""
    streams: tuple[str, ...] = ()

    def __init__(self, model: nn.Module):
        self.model = model

    @property
    def has_hyperprior(self) -> bool:
        """True when a ``z`` stream carries side information for ``y``."""
        return "z" in self.streams

    def hyper_input(self, y: Tensor) -> Tensor:
        """What ``h_a`` reads, computed sample by sample from ``y`` (identity by default)."""
        return y

    # -- z (side information) ----------------------------------------------------------
    def encode_z(self, z: Tensor) -> tuple[bytes, Tensor]:
        """Code one ``z`` chunk; return its bytes and the decoded ``ẑ`` (bit-exact)."""
        raise NotImplementedError(f"{self.family} has no z stream")

    def decode_z(self, data: bytes, shape: tuple[int, int]) -> Tensor:
        """Decode one ``z`` chunk of spatial ``shape`` into ``ẑ`` ``(1, C, h, w)``."""
        raise NotImplementedError(f"{self.family} has no z stream")

    # -- y (the latent) ----------------------------------------------------------------
    @abstractmethod
    def encode_y(self, y: Tensor, params: Tensor | None) -> tuple[bytes, Tensor]:
        """Code one ``y`` chunk given ``h_s`` output on the same window (or ``None``).

        Returns the bytes and ``ŷ`` exactly as the decoder will reconstruct it.
        """

    @abstractmethod
    def decode_y(self, data: bytes, params: Tensor | None, shape: tuple[int, int]) -> Tensor:
        """Decode one ``y`` chunk of spatial ``shape`` into ``ŷ`` ``(1, M, h, w)``."""

    def symbols_y(self, y: Tensor, params: Tensor | None) -> Tensor:
        """Integer symbols of a ``y`` chunk (for comparisons with full-image coding)."""
        raise NotImplementedError
