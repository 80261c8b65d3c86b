"""The contract of a phased codec: a chunk's ``ŷ`` decoded in phases with a context halo.

Checkerboard (anchors, then non-anchors) and ELIC (channel groups × checkerboard) decode a
chunk in phases. Phase ``k`` of chunk ``(i, j)`` reads

* ``params``: ``h_s`` output on exactly the chunk's window (stage :attr:`Names.PARAMS`,
  computed once per chunk), and
* ``context``: the ``ŷ`` accumulated by phases ``< k`` over :meth:`PhasedCodec.context_window`
  -- the chunk grown by the phase's context halo, which reaches into neighbouring chunks;
  zeros outside the latent (the zero padding of full-image inference).

It returns the chunk's ``ŷ`` accumulated up to and including phase ``k``. Encoder and decoder
run the same :meth:`PhasedCodec.phase` on the same windows; only the last step differs
(``compress`` the phase's samples, or ``decompress`` them from the phase's stream). In a
guarded container every phase's chunk starts with the checksum of the phase's CDF index
map, checked before that phase's rANS decoder runs. All chunks
of one phase can run in parallel; phase ``k`` of a chunk runs after phase ``k − 1`` of the
neighbours its halo touches.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from tilestream.assemble import assemble
from tilestream.entropy.base import ChunkCodec, ChunkGuard, CodingContext, chunk_guard, codec_as
from tilestream.execute.tensors import to_numpy, to_tensor
from tilestream.geometry import Interval, Window
from tilestream.stage import Dep, Index, Names, Part, Stage, values

__all__ = ["PhasedCodec", "grow", "phase_reads"]


def grow(window: Window, halo: int) -> Window:
    """``window`` grown by ``halo`` samples on every side."""
    return Window(
        Interval(window.y.start - halo, window.y.stop + halo),
        Interval(window.x.start - halo, window.x.stop + halo),
    )


def phase_reads(k: int, halo: int) -> str:
    """What phase ``k`` reads, in words."""
    return "h_s params" if k == 0 else f"ŷ of phases < {k} within {halo} latent samples"


class PhasedCodec(ChunkCodec):
    """Entropy coding of ``y`` in phases; ``streams`` are ``z`` then one per phase."""

    index_guard = True

    def context_window(self, k: int, chunk: Window) -> Window | None:
        """``ŷ`` window that phase ``k`` of ``chunk`` reads (``None``: it reads no ``ŷ``)."""
        return None if k == 0 else grow(chunk, self.phases[k].halo)

    def y_stages(self, ctx: CodingContext, encoding: bool) -> list[Stage]:
        lay = ctx.layout
        z_for = lambda i, j: ctx.z_window_for(lay.y_window(i, j))  # noqa: E731
        stages = [Stage(Names.PARAMS, _params_task, (Dep.through(self.hyper_stage(encoding), z_for, lay.z_grid, lay.grid_shape),))]
        for k in range(len(self.phases)):
            deps = [Dep.own(Names.PARAMS)]
            if k > 0:
                window = partial(_context_of, self, lay.y_window, k)
                deps.append(Dep.through(Names.phase(k - 1), window, lay.y_grid, lay.grid_shape))
            if encoding:
                deps.append(Dep.own(Names.Y))
            stages.append(Stage(Names.phase(k), partial(_phase_task, k, encoding), tuple(deps), writes=encoding))
        return stages

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
        guard: ChunkGuard | None = None,
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
            the latent); ``None`` for ``k = 0``.
        y, data
            Exactly one: the chunk's ``y`` to encode, or the phase's bytes to decode.
        guard : ChunkGuard, optional
            The chunk's index guard (guarded containers): the bytes start with the
            checksum of the phase's CDF index map, checked before rANS decodes.

        Returns
        -------
        bytes or None, Tensor
            The phase's bytes when encoding, and the chunk's ``ŷ`` ``(1, M, h, w)``
            accumulated through phase ``k`` (exactly what the decoder reconstructs).
        """


def _context_of(codec: PhasedCodec, y_window: Callable[[int, int], Window], k: int, i: int, j: int) -> Window:
    window = codec.context_window(k, y_window(i, j))
    if window is None:  # pragma: no cover - phase 0 has no context dependency
        raise ValueError(f"phase {k} reads no context")
    return window



@torch.no_grad()
def _params_task(ctx: CodingContext, i: int, j: int, zs: dict[Index, Part]) -> Part:
    """``h_s`` output on ``y`` chunk ``(i, j)``, computed once for all its phases."""
    return Part(to_numpy(ctx.side_params(ctx.layout.y_window(i, j), values(zs))))


@torch.no_grad()
def _phase_task(k: int, encoding: bool, ctx: CodingContext, i: int, j: int, params: dict[Index, Part], *rest: dict[Index, Part]) -> Part:
    """Phase ``k`` of chunk ``(i, j)``: encode (writes the phase's bytes) or decode.

    ``rest`` holds the previous phase's parts around the chunk (``k > 0``), then the
    chunk's ``y`` (encoding). Returns the chunk's ``ŷ`` through phase ``k``.
    """
    codec = codec_as(ctx, PhasedCodec)
    lay = ctx.layout
    prev = rest[0] if k > 0 else None
    y = to_tensor(rest[-1][(i, j)].value, ctx.device) if encoding else None
    chunk = lay.y_window(i, j)
    have = codec.context_window(k, chunk)
    context = None
    if have is not None and prev:
        context = to_tensor(assemble(values(prev), lay.y_grid, have), ctx.device)
    stream = codec.phases[k].stream
    data = None if encoding else ctx.store().read(stream, i, j)
    payload, y_hat = codec.phase(
        k, chunk=chunk, y_shape=lay.y_shape, params=to_tensor(params[(i, j)].value, ctx.device),
        context=context, y=y, data=data, guard=chunk_guard(ctx, stream, i, j),
    )
    size = ctx.store().write(stream, i, j, payload) if payload is not None else 0
    return Part(to_numpy(y_hat), size)
