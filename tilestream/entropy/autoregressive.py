"""Serial autoregressive context, block-wise: ``mbt2018``, ``cheng2020-anchor``, ``cheng2020-attn``.

CompressAI's :class:`~compressai.models.JointAutoregressiveHierarchicalPriors` codes ``y`` in
raster order; sample ``(r, c)`` gets its Gaussian from ``h_s`` parameters and a 5×5 masked
convolution over the samples already decoded. Block-wise, the latent is cut into *sheared*
tiles (:class:`~tilestream.geometry.shear.ShearedGrid`) that form a wavefront DAG; each tile
is one rANS stream, its context read from a buffer holding the ``ŷ`` of the tiles it
depends on. Every sample's Gaussian is computed with exactly CompressAI's per-sample
operations; inside a tile the samples are coded in *wavefront steps* (anti-diagonals whose
samples do not read each other, :func:`~tilestream.geometry.shear.wavefront_steps`), one
batched context convolution and one rANS call per step instead of per sample (container
1.5; older containers hold their samples in raster order and decode that way).

The index guard (guarded containers) cannot check the real CDF indexes of a tile before
decoding it: sample ``n``'s indexes depend on the ``ŷ`` decoded before it. A tile's payload
therefore starts with two checksums (:meth:`AutoregressiveCodec.code_tile`):

1. the *context-free* index map -- ``build_indexes`` of ``entropy_parameters(h_s params,
   context of an all-zero ŷ)`` on the tile's bounding box, computed in one batch before the
   first sample: it runs ``h_s``'s output through exactly the layers and the scale table
   the real indexes go through, so a decoder whose arithmetic differs is almost always
   caught here, before the rANS decoder reads a byte;
2. the real index sequence of the tile in coding order, checked after its last sample is
   decoded and before its ``ŷ`` leaves the tile (a difference that only the context
   branch exposes: the tile's rANS bytes were read with wrong tables, but no garbage
   reaches ``g_s``).
"""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tilestream.assemble import assemble, assemble_tiles
from tilestream.entropy.base import (
    ChunkCodec,
    ChunkGuard,
    CodingContext,
    Phase,
    chunk_guard,
    codec_as,
    index_checksum,
)
from tilestream.errors import UnsupportedModuleError
from tilestream.execute.tensors import to_numpy, to_tensor
from tilestream.geometry import CodecLayout, Window
from tilestream.geometry.shear import RASTER, WAVEFRONT, ShearedGrid, context_slope, wavefront_steps
from tilestream.models.compat import compressai
from tilestream.stage import Dep, Index, Names, Part, Stage, values

__all__ = ["AutoregressiveCodec"]

Y_STREAM = "y"


class AutoregressiveCodec(ChunkCodec):
    """Joint autoregressive + hyperprior models, coded in sheared tiles."""

    family = "autoregressive"
    index_guard = True
    sample_order = WAVEFRONT

    def __init__(self, model: nn.Module):
        super().__init__(model)
        conv = model.context_prediction
        k = conv.kernel_size
        if k[0] != k[1] or k[0] % 2 == 0 or tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1):
            raise UnsupportedModuleError(
                f"context model {conv} is not a centred odd stride-1 masked convolution; "
                f"only CompressAI's MaskedConv2d contexts are supported"
            )
        self.kernel = k[0]
        self.pad = k[0] // 2
        mask = conv.mask[0, 0]
        rows = []
        for a in range(self.kernel):
            cols = [b for b in range(self.kernel) if float(mask[a, b]) != 0.0]
            if cols:
                if cols != list(range(cols[0], cols[-1] + 1)):
                    raise UnsupportedModuleError(f"context mask row {a} of {conv} is not contiguous")
                rows.append((a - self.pad, cols[0] - self.pad, cols[-1] - self.pad))
        #: the causal context, ``(dy, dx_lo, dx_hi)`` per row
        self.context = tuple(rows)
        self.phases = (
            Phase(
                Y_STREAM, "serial context, sheared tiles as a wavefront", self.pad,
                "ŷ of the tile on the left and of the tiles above / above-right",
            ),
        )

    def describe(self) -> list[dict[str, object]]:
        entry = self.phases[0].describe()
        entry["context"] = [list(row) for row in self.context]
        entry["slope"] = context_slope(self.context)
        return [entry]

    def tiles(self, layout: CodecLayout) -> ShearedGrid:
        """The sheared tiles of ``y`` (one block of ``y`` per tile, sheared)."""
        return _sheared(layout.y_shape, layout.y_grid.block, self.context)

    def latent_grid(self, layout: CodecLayout) -> ShearedGrid:
        return self.tiles(layout)

    def gather(self, layout: CodecLayout, parts: dict[Index, np.ndarray], window: Window) -> np.ndarray:
        channels = next(iter(parts.values())).shape[0]
        return assemble_tiles(parts, self.tiles(layout), window, channels)

    def stream_grids(self, layout: CodecLayout) -> dict[str, list[int]]:
        return {Y_STREAM: list(self.tiles(layout).grid_shape)}

    def min_band(self, workers: int) -> int:
        """At least two strips (up to one per worker, at most 4) per wavefront step, so
        tiles of consecutive strips run as a skewed wavefront in parallel."""
        return max(min(4, workers), 2)

    def y_stages(self, ctx: CodingContext, encoding: bool) -> list[Stage]:
        """One stage of sheared tiles; a tile reads itself's left, upper and upper-right
        neighbours (the wavefront), ``ẑ`` around its bounding box and, encoding, ``y``."""
        lay = ctx.layout
        grid = self.tiles(lay)
        shape = grid.grid_shape
        z_for = partial(_z_window_of_tile, ctx, grid)
        deps = [
            Dep.through(self.hyper_stage(encoding), z_for, lay.z_grid, shape),
            Dep(Names.TILES, grid.deps, (-1, 0)),
        ]
        if encoding:
            deps.append(Dep.through(Names.Y, grid.window, lay.y_grid, shape))
        return [Stage(Names.TILES, partial(_tile_task, encoding), tuple(deps), writes=encoding, cols=shape[1])]

    def code_tile(
        self,
        positions: list[tuple[int, int]],
        box: Window,
        params: Tensor,
        buffer: Tensor,
        buffer_window: Window,
        y: Tensor | None = None,
        data: bytes | None = None,
        guard: ChunkGuard | None = None,
        order: str = WAVEFRONT,
    ) -> tuple[bytes | None, Tensor]:
        """Encode (``y`` given) or decode (``data`` given) one tile, step by step.

        ``order`` is the order of the samples in the tile's stream: ``"wavefront"``
        (:func:`~tilestream.geometry.shear.wavefront_steps`: the samples of one step are
        coded together, one rANS call and one batched context convolution per step) or
        ``"raster"`` (one sample at a time, CompressAI's order; containers before 1.5).
        Both compute every sample's Gaussian with the same per-sample arithmetic, so they
        decode the same ``ŷ``; only the order of the symbols in the stream differs.

        With a ``guard`` the payload is ``crc32(context-free index map) + crc32(index
        sequence) + rANS bytes`` (4 bytes each, little endian): the decoder checks the first
        before its rANS decoder runs and the second after the tile's last sample, before
        returning its ``ŷ`` (see the module docstring).

        Parameters
        ----------
        positions : list of (int, int)
            The tile's latent samples in raster order.
        box : Window
            The tile's bounding box; ``params`` and ``y`` cover it.
        params : Tensor
            ``h_s`` output on ``box``.
        buffer : Tensor
            ``ŷ`` of the tiles this tile depends on (zeros elsewhere) on ``buffer_window``,
            which must contain ``box`` grown by the kernel's reach.

        Returns
        -------
        bytes or None, Tensor
            The tile's bytes when encoding, and its ``ŷ`` on ``box`` (zero outside the tile).

        Raises
        ------
        EntropyMismatchError
            If this decoder's CDF indexes differ from the encoder's.
        """
        model = self.model
        gc = model.gaussian_conditional
        conv = model.context_prediction
        cdf, cdf_lengths, offsets = self._tables()
        masked_weight = conv.weight * conv.mask
        k, pad = self.kernel, self.pad
        buf = buffer.clone()
        out = params.new_zeros((1, buf.shape[1], *box.shape))
        ans = compressai().ans
        encoding = y is not None
        coarse = self.context_free_indexes(params) if guard is not None else None
        indexes_list: list[int] = []
        if encoding:
            encoder = ans.BufferedRansEncoder()
            symbols: list[int] = []
        else:
            assert data is not None
            if guard is not None:
                (expected_coarse, expected_all), data = guard.split(data, 2)
                guard.verify(expected_coarse, coarse)  # before the rANS decoder sees a single byte
            decoder = ans.RansDecoder()
            decoder.set_stream(data)
        oy, ox = buffer_window.y.start, buffer_window.x.start
        if order == WAVEFRONT:
            steps = wavefront_steps(positions, self.context)
        elif order == RASTER:
            steps = [[p] for p in positions]
        else:
            raise ValueError(f"unknown sample order {order!r}")
        for step in steps:
            # one batch per step: the masked convolution of a batch equals the per-sample
            # one bit for bit; entropy_parameters (1x1 convolutions, whose batched GEMM
            # would not) runs per sample; build_indexes / quantize are elementwise
            local = [(r - box.y.start, c - box.x.start) for r, c in step]  # in params / out
            rows, cols = torch.tensor([pr for pr, _ in local]), torch.tensor([pc for _, pc in local])
            crops = [buf[:, :, r - pad - oy : r - pad - oy + k, c - pad - ox : c - pad - ox + k] for r, c in step]
            ctx_p = F.conv2d(crops[0] if len(crops) == 1 else torch.cat(crops), masked_weight, bias=conv.bias)
            gaussian_params = torch.cat([
                model.entropy_parameters(torch.cat((params[:, :, pr : pr + 1, pc : pc + 1], ctx_p[n : n + 1]), dim=1))
                for n, (pr, pc) in enumerate(local)
            ])
            scales_hat, means_hat = gaussian_params.chunk(2, 1)
            indexes = gc.build_indexes(scales_hat)  # (n, M, 1, 1)
            step_indexes = indexes.reshape(-1).tolist()
            indexes_list.extend(step_indexes)
            if encoding:
                y_q = gc.quantize(y[0, :, rows, cols].t().reshape(means_hat.shape), "symbols", means_hat)
                value = y_q + means_hat
                symbols.extend(y_q.reshape(-1).tolist())
            else:
                rv = decoder.decode_stream(step_indexes, cdf, cdf_lengths, offsets)
                value = gc.dequantize(torch.Tensor(rv).reshape(means_hat.shape), means_hat)
            value = value[:, :, 0, 0].t()  # (M, n)
            buf[0, :, rows + (box.y.start - oy), cols + (box.x.start - ox)] = value
            out[0, :, rows, cols] = value
        if encoding:
            encoder.encode_with_indexes(symbols, indexes_list, cdf, cdf_lengths, offsets)
            payload: bytes = encoder.flush()
            if guard is not None:
                payload = guard.seal(payload, index_checksum(coarse), index_checksum(indexes_list))
            return payload, out
        if guard is not None:
            guard.verify(expected_all, index_checksum(indexes_list))
        return None, out

    def _tables(self) -> tuple[list[list[int]], list[int], list[int]]:
        """The Gaussian conditional's CDF rows (each cut to its length: the rANS coder reads
        no further, and a call converts ~7x fewer values from Python lists), lengths and
        offsets, as the lists rANS takes; built once per model, again after ``update()``."""
        gc = self.model.gaussian_conditional
        key = tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in (gc.quantized_cdf, gc.cdf_length, gc.offset))
        cached = getattr(self, "_cached_tables", None)
        if cached is None or cached[0] != key:
            lengths = gc.cdf_length.tolist()
            cdf = [row[:n] for row, n in zip(gc.quantized_cdf.tolist(), lengths)]
            cached = (key, (cdf, lengths, gc.offset.tolist()))
            self._cached_tables = cached  # one assignment: threads see the old or the new pair
        return cached[1]

    def context_free_indexes(self, params: Tensor) -> Tensor:
        """CDF indexes of ``h_s`` ``params`` with the context of an all-zero ``ŷ`` (the
        masked convolution's bias), on the whole of ``params``' window, in one batch."""
        conv = self.model.context_prediction
        if conv.bias is None:
            ctx_p = params.new_zeros((params.shape[0], conv.out_channels, *params.shape[-2:]))
        else:
            ctx_p = conv.bias.reshape(1, -1, 1, 1).expand(params.shape[0], -1, *params.shape[-2:])
        gaussian_params = self.model.entropy_parameters(torch.cat((params, ctx_p), dim=1))
        scales_hat, _ = gaussian_params.chunk(2, 1)
        return self.model.gaussian_conditional.build_indexes(scales_hat)


@lru_cache(maxsize=64)
def _sheared(y_shape: tuple[int, int], tile: tuple[int, int], context: tuple) -> ShearedGrid:
    return ShearedGrid(y_shape, tile, context)


def _z_window_of_tile(ctx: CodingContext, grid: ShearedGrid, i: int, j: int) -> Window:
    box = grid.window(i, j)
    return box if box.empty else ctx.z_window_for(box)



@torch.no_grad()
def _tile_task(
    encoding: bool, ctx: CodingContext, i: int, j: int, zs: dict[Index, Part], tiles: dict[Index, Part],
    ys: dict[Index, Part] | None = None,
) -> Part:
    """Sheared tile ``(i, j)``: encode (writes its bytes) or decode.

    Returns the tile's ``ŷ`` on its bounding box (zero outside the tile).
    """
    codec = codec_as(ctx, AutoregressiveCodec)
    lay = ctx.layout
    grid = codec.tiles(lay)
    box = grid.window(i, j)
    if box.empty:
        return Part(np.zeros((0, 0, 0), np.float32))
    params = ctx.side_params(box, values(zs))
    channels = params.shape[1] // 2
    around = grid.context_window(i, j)
    if tiles:
        buffer = to_tensor(assemble_tiles(values(tiles), grid, around, channels), ctx.device)
    else:
        buffer = params.new_zeros((1, channels, *around.shape))
    y = None if ys is None else to_tensor(assemble(values(ys), lay.y_grid, box), ctx.device)
    data = None if encoding else ctx.store().read(Y_STREAM, i, j)
    guard = chunk_guard(ctx, Y_STREAM, i, j)
    payload, y_hat = codec.code_tile(
        list(grid.positions(i, j)), box, params, buffer, around, y=y, data=data, guard=guard, order=ctx.sample_order,
    )
    size = ctx.store().write(Y_STREAM, i, j, payload) if payload is not None else 0
    return Part(to_numpy(y_hat), size)
