"""The contract of a phased codec: a chunk's ``ŷ`` decoded in phases with a context halo.

Checkerboard (anchors, then non-anchors) and ELIC (channel groups × checkerboard) decode a
chunk in phases. Phase ``k`` of chunk ``(i, j)`` reads

* ``params``: ``h_s`` output on exactly the chunk's window (computed once per chunk), and
* ``context``: the ``ŷ`` accumulated by phases ``< k`` over :meth:`PhasedCodec.context_window`
  -- the chunk grown by the phase's context halo, which reaches into neighbouring chunks;
  zeros outside the latent (the zero padding of full-image inference).

It returns the chunk's ``ŷ`` accumulated up to and including phase ``k``. Encoder and decoder
run the same :meth:`PhasedCodec.phase` on the same windows; only the last step differs
(``compress`` the phase's samples, or ``decompress`` them from the phase's stream). All chunks
of one phase can run in parallel; the pipeline schedules phase ``k`` of a chunk after phase
``k − 1`` of the neighbours its halo touches.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from torch import Tensor

from tilestream.entropy.base import ChunkCodec
from tilestream.geometry import Interval, Window

__all__ = ["Phase", "PhasedCodec", "grow"]


@dataclass(frozen=True)
class Phase:
    """One phase: its stream, a readable name, and the ``ŷ`` halo it reads (latent samples)."""

    stream: str
    name: str
    halo: int


def grow(window: Window, halo: int) -> Window:
    """``window`` grown by ``halo`` samples on every side."""
    return Window(
        Interval(window.y.start - halo, window.y.stop + halo),
        Interval(window.x.start - halo, window.x.stop + halo),
    )


class PhasedCodec(ChunkCodec):
    """Entropy coding of ``y`` in phases; ``streams`` are ``z`` then one per phase."""

    kind = "phased"
    phases: tuple[Phase, ...] = ()

    @property
    def streams(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("z", *(p.stream for p in self.phases))

    def context_window(self, k: int, chunk: Window) -> Window | None:
        """``ŷ`` window that phase ``k`` of ``chunk`` reads (``None``: it reads no ``ŷ``)."""
        halo = self.phases[k].halo
        return None if k == 0 else grow(chunk, halo)

    @abstractmethod
    def phase(
        self,
        k: int,
        *,
        chunk: Window,
        y_shape: tuple[int, int],
        params: Tensor,
        context: Tensor | None,
        y: Tensor | None = None,
        data: bytes | None = None,
    ) -> tuple[bytes | None, Tensor]:
        """Run phase ``k`` of one chunk: encode ``y`` (given) or decode ``data``.

        Parameters
        ----------
        k : int
            Phase index.
        chunk : Window
            The chunk's latent window.
        y_shape : tuple of int
            The whole latent's ``(H, W)`` (for border handling).
        params : Tensor
            ``h_s`` output on ``chunk``, ``(1, P, h, w)``.
        context : Tensor or None
            Accumulated ``ŷ`` of phases ``< k`` on :meth:`context_window` (zero outside
            the latent); for ``k = 0`` the chunk's own (all zero) ``ŷ`` or ``None``.
        y, data
            Exactly one: the chunk's ``y`` to encode, or the phase's bytes to decode.

        Returns
        -------
        bytes or None, Tensor
            The phase's bytes when encoding, and the chunk's ``ŷ`` ``(1, M, h, w)``
            accumulated through phase ``k`` (exactly what the decoder reconstructs).
        """

    def describe(self) -> list[dict[str, object]]:
        return [
            {"stream": p.stream, "phase": p.name, "halo": p.halo,
             "reads": "h_s params" if i == 0 else f"ŷ of phases < {i} within {p.halo} latent samples"}
            for i, p in enumerate(self.phases)
        ]
