"""Checkerboard context, block-wise: ``cheng2020-anchor-checkerboard``.

CompressAI's :class:`~compressai.latent_codecs.CheckerboardLatentCodec` codes the anchors
(``(r + c)`` even, global coordinates) with a zero context, then the non-anchors with a
5×5 masked convolution over the decoded anchors. Per chunk we run the same two passes: the
anchor pass reads only the chunk's own ``h_s`` parameters; the non-anchor pass reads the
anchors of the chunk grown by the convolution's reach (2 samples) -- anchors of
neighbouring chunks included -- so its context equals the full-image one. Chunk windows
start at even latent coordinates, so CompressAI's ``unembed`` / ``embed`` packing of a chunk
matches the global checkerboard.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tilestream.entropy.base import ChunkGuard, Phase
from tilestream.entropy.phased import PhasedCodec, phase_reads
from tilestream.errors import UnsupportedModuleError
from tilestream.execute.crop import take

__all__ = ["CheckerboardCodec", "checkerboard_halo", "checkerboard_step"]


def checkerboard_halo(cb: nn.Module) -> int:
    """Reach of the checkerboard context convolution (``kernel // 2``), validated."""
    conv = cb.context_prediction
    k = conv.kernel_size
    if (
        k[0] != k[1] or k[0] % 2 == 0 or tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1)
        or tuple(conv.padding) != (k[0] // 2, k[0] // 2) or cb.anchor_parity != "even"
    ):
        raise UnsupportedModuleError(
            f"checkerboard context {conv} (anchor parity {cb.anchor_parity}) is not a centred odd "
            f"'same' convolution with even anchors; only CompressAI's standard checkerboard is supported"
        )
    return k[0] // 2


def _spatial_context(cb: nn.Module, anchors: Tensor) -> Tensor:
    """The masked context convolution over zero-extended anchors, without padding."""
    conv = cb.context_prediction
    return F.conv2d(anchors, conv.weight * conv.mask, conv.bias)


def checkerboard_step(
    cb: nn.Module,
    step: int,
    *,
    side: Tensor,
    own: Tensor,
    anchors: Tensor | None,
    y: Tensor | None,
    data: bytes | None,
    guard: ChunkGuard | None = None,
) -> tuple[bytes | None, Tensor]:
    """One pass (``0`` anchors, ``1`` non-anchors) of a checkerboard codec on one chunk.

    ``side``: side parameters on the chunk; ``own``: the chunk's ``ŷ`` so far (this codec's
    channels); ``anchors``: for ``step = 1``, ``ŷ`` of the anchors on the chunk grown by
    :func:`checkerboard_halo` (zero outside the latent). Mirrors
    ``CheckerboardLatentCodec.compress`` / ``decompress`` (and its
    ``GaussianConditionalLatentCodec``) operation for operation, except that encoding
    dequantises its own symbols rather than decoding its own stream; with a ``guard`` the
    payload starts with the checksum of the pass's CDF index map, checked when decoding
    before the rANS decoder runs (the indexes depend on ``side`` and, for the non-anchors,
    on the decoded anchors -- all known before this pass decodes).
    """
    h, w = own.shape[-2:]
    side_ = cb.unembed(side)
    if step == 0:
        ctx_channels = cb.context_prediction.out_channels
        y_ctx = side.new_zeros((side.shape[0], ctx_channels, h, w // 2))
    else:
        assert anchors is not None
        y_ctx = cb.unembed(_spatial_context(cb, anchors))[1]
    params = cb.entropy_parameters(cb.merge(y_ctx, side_[step]))
    gc_codec = cb.latent_codec["y"]
    scales, means = _scales_means(gc_codec, gc_codec.entropy_parameters(params))
    gc = gc_codec.gaussian_conditional
    indexes = gc.build_indexes(scales)
    if y is not None:
        y_step = cb.unembed(y)[step]
        (string,) = gc.compress(y_step, indexes, means)
        # ŷ as the decoder rebuilds it -- CompressAI's decompress() dequantises the int32
        # symbols that rANS codes losslessly (out-of-range ones in bypass mode) -- without
        # the rANS decode that CompressAI's compress() runs to get it
        packed = gc.dequantize(gc.quantize(y_step, "symbols", means), means)
        payload: bytes | None = string if guard is None else guard.sealed(indexes, string)
    else:
        assert data is not None
        payload = None
        if guard is not None:
            data = guard.open(data, indexes)  # before the rANS decoder sees a single byte
        packed = gc.decompress([data], indexes, means=means)
        if tuple(packed.shape[2:4]) != (h, w // 2):  # pragma: no cover - CompressAI's own assertion
            raise ValueError(f"decoded {tuple(packed.shape[2:4])} samples, expected {(h, w // 2)}")
    halves = [torch.zeros_like(packed), torch.zeros_like(packed)]
    halves[step] = packed
    return payload, own + cb.embed(torch.stack(halves))


def _scales_means(gc_codec: nn.Module, gaussian_params: Tensor) -> tuple[Tensor, Tensor | None]:
    """``GaussianConditionalLatentCodec``'s split of its parameters (its ``chunks`` order)."""
    chunks = tuple(gc_codec.chunks)
    if chunks == ("scales", "means"):
        scales, means = gaussian_params.chunk(2, 1)
        return scales, means
    if chunks == ("means", "scales"):
        means, scales = gaussian_params.chunk(2, 1)
        return scales, means
    if chunks == ("scales",):
        return gaussian_params, None
    raise UnsupportedModuleError(
        f"Gaussian conditional parameters {chunks} carry no scales; only ('scales', 'means'), "
        f"('means', 'scales') and ('scales',) are supported"
    )


class CheckerboardCodec(PhasedCodec):
    """``cheng2020-anchor-checkerboard``: anchors, then non-anchors over a 5×5 halo."""

    family = "checkerboard"

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.cb = model.latent_codec["y"]
        halo = checkerboard_halo(self.cb)
        self.phases = (
            Phase("y/phase-0", "anchors", 0, phase_reads(0, 0)),
            Phase("y/phase-1", "non-anchors", halo, phase_reads(1, halo)),
        )

    def phase(self, k, *, chunk, y_shape, params, context, y=None, data=None, guard=None):
        ctx_window = self.context_window(k, chunk)
        if context is None:
            own = params.new_zeros((params.shape[0], self.cb.context_prediction.in_channels, *chunk.shape))
        else:
            own = take(context, ctx_window or chunk, chunk, chunk)
        return checkerboard_step(self.cb, k, side=params, own=own, anchors=context, y=y, data=data, guard=guard)

