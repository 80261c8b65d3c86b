"""The contract of a chunk codec: one latent chunk ↔ one rANS byte stream.

A chunk codec adapts one CompressAI model family to block-wise coding. It never runs a
transform itself: the pipeline runs ``h_a`` / ``h_s`` block-wise and hands the codec the
tensors of one chunk (``y`` values, ``z`` values, or the entropy parameters that ``h_s``
produced for exactly that chunk's window). Encoder and decoder call the same codec methods
on the same windows, so the entropy parameters -- and hence the CDF indexes the rANS coder
sees -- are computed identically on both sides.

Three kinds of codec, by how a chunk's ``y`` depends on other chunks' ``ŷ``:

* ``"single"`` -- not at all: one ``y`` stream (factorized, scale and mean-scale
  hyperpriors; :meth:`ChunkCodec.encode_y` / :meth:`ChunkCodec.decode_y`).
* ``"phased"`` -- through a spatial / channel context decoded in phases (checkerboard,
  ELIC; :class:`~tilestream.entropy.phased.PhasedCodec`): phase ``k`` of a chunk reads the
  ``ŷ`` of phases ``< k`` of its neighbours inside a halo; one stream per phase.
* ``"autoregressive"`` -- a serial raster-order context (mbt2018, cheng2020;
  :class:`~tilestream.entropy.autoregressive.AutoregressiveCodec`): coded in sheared tiles
  (:class:`~tilestream.geometry.shear.ShearedGrid`) as a wavefront.
"""

from __future__ import annotations

from abc import ABC

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
    kind: str = "single"

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
    def _bottleneck(self):
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

    # -- y (the latent) ----------------------------------------------------------------
    def encode_y(self, y: Tensor, params: Tensor | None) -> tuple[bytes, Tensor]:
        """Code one ``y`` chunk given ``h_s`` output on the same window (or ``None``).

        Returns the bytes and ``ŷ`` exactly as the decoder will reconstruct it.
        """
        raise NotImplementedError(f"{self.family} codes y {self.kind}, not chunk by chunk alone")

    def decode_y(self, data: bytes, params: Tensor | None, shape: tuple[int, int]) -> Tensor:
        """Decode one ``y`` chunk of spatial ``shape`` into ``ŷ`` ``(1, M, h, w)``."""
        raise NotImplementedError(f"{self.family} codes y {self.kind}, not chunk by chunk alone")

    def describe(self) -> list[dict[str, object]]:
        """The coding phases, for ``tilestream info`` (one entry per ``y`` stream)."""
        return [{"stream": s, "phase": s, "reads": "own chunk only"} for s in self.streams if s != "z"]

    def symbols_y(self, y: Tensor, params: Tensor | None) -> Tensor:
        """Integer symbols of a ``y`` chunk (for comparisons with full-image coding)."""
        raise NotImplementedError
