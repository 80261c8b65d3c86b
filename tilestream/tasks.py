"""The work of one task: pure functions of a :class:`CodecContext`, chunk indices and the
neighbouring chunks they read. The pipeline wires them into dask graphs; nothing here
knows about dask.

Every function runs its transform with :func:`tilestream.execute.run_window` on exactly the
window the plan gives, so encoder and decoder compute the entropy parameters of a chunk by
the same function on the same window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from tilestream.container.store import ChunkStore
from tilestream.entropy import ChunkCodec, codec_for
from tilestream.execute.run import run_window
from tilestream.geometry import BlockGrid, CodecLayout, Window
from tilestream.geometry.shear import ShearedGrid
from tilestream.io.base import Source
from tilestream.models.graph import LayerGraph, analyse
from tilestream.models.registry import transforms
from tilestream.models.spec import ModelSpec, load_model

__all__ = ["CodecContext", "Chunks", "assemble"]

#: chunk values keyed by (row, col)
Chunks = dict[tuple[int, int], np.ndarray]


def assemble(parts: Chunks, grid: BlockGrid, window: Window) -> np.ndarray:
    """Stitch chunks ``(C, h, w)`` of ``grid`` into one array covering ``window`` (zeros
    outside the grid: the zero padding of full-image inference)."""
    first = next(iter(parts.values()))
    out = np.zeros((first.shape[0], *window.shape), dtype=first.dtype)
    for index in grid.touching(window):
        if index not in parts:
            raise KeyError(f"chunk {index} needed for {window} was not provided")  # internal
        have = grid.window(*index)
        common = have.intersect(window)
        src = common.to_slices(have)
        dst = common.to_slices(window)
        out[:, dst[0], dst[1]] = parts[index][:, src[0], src[1]]
    return out


def assemble_tiles(parts: Chunks, grid: ShearedGrid, window: Window, channels: int) -> np.ndarray:
    """Sum sheared tiles (each on its bounding box, zero outside the tile) over ``window``.

    Tiles are disjoint, so the sum copies every sample exactly (``x + 0 = x``).
    """
    out = np.zeros((channels, *window.shape), dtype=np.float32)
    for index, values in parts.items():
        have = grid.window(*index)
        common = have.intersect(window)
        if common.empty:
            continue
        src = common.to_slices(have)
        dst = common.to_slices(window)
        out[:, dst[0], dst[1]] += values[:, src[0], src[1]]
    return out


@dataclass(frozen=True)
class CodecContext:
    """Everything a task needs, picklable: weights, layout, device, source and store."""

    spec: ModelSpec
    layout: CodecLayout
    device: str = "cpu"
    source: Source | None = None
    store_root: str | None = None
    channels: int = 3

    # -- cached per process ------------------------------------------------------------
    def model(self) -> torch.nn.Module:
        return load_model(self.spec, self.device)

    def codec(self) -> ChunkCodec:
        return codec_for(self.model())

    def graph(self, name: str) -> LayerGraph:
        return analyse(transforms(self.model())[name], name)

    @property
    def kind(self) -> str:
        """``"single"``, ``"phased"`` or ``"autoregressive"`` (see :mod:`tilestream.entropy.base`)."""
        return self.codec().kind

    def tiles(self) -> ShearedGrid:
        """Sheared tiles of ``y`` for an autoregressive codec."""
        codec = self.codec()
        return _sheared(self.layout.y_shape, self.layout.y_grid.block, codec.context)  # type: ignore[attr-defined]

    def store(self) -> ChunkStore:
        assert self.store_root is not None
        return ChunkStore(self.store_root)

    # -- windows ----------------------------------------------------------------------
    def image_window_for_y(self, i: int, j: int) -> Window:
        """Padded-image window that ``g_a`` reads for ``y`` chunk ``(i, j)``."""
        win = self.graph("g_a").spatial.plan(self.layout.padded_shape, self.layout.y_window(i, j))[0]
        assert win is not None
        return win

    def y_window_for_z(self, i: int, j: int) -> Window:
        """``y`` window that ``h_a`` reads for ``z`` chunk ``(i, j)``."""
        win = self.graph("h_a").spatial.plan(self.layout.y_shape, self.layout.z_window(i, j))[0]
        assert win is not None
        return win

    def z_window_for_y(self, i: int, j: int) -> Window:
        """``ẑ`` window that ``h_s`` reads for the parameters of ``y`` chunk ``(i, j)``."""
        return self.z_window_for(self.layout.y_window(i, j))

    def z_window_for(self, window: Window) -> Window:
        """``ẑ`` window that ``h_s`` reads for the parameters of a ``y`` ``window``."""
        win = self.graph("h_s").spatial.plan(self.layout.z_shape, window)[0]
        assert win is not None
        return win

    def context_window(self, k: int, i: int, j: int) -> Window | None:
        """``ŷ`` window that phase ``k`` of chunk ``(i, j)`` reads (phased codecs)."""
        return self.codec().context_window(k, self.layout.y_window(i, j))  # type: ignore[attr-defined]

    def y_window_for_pixels(self, window: Window) -> Window:
        """``ŷ`` window that ``g_s`` reads for a padded-image ``window``."""
        win = self.graph("g_s").spatial.plan(self.layout.y_shape, window)[0]
        assert win is not None
        return win


def _tensor(array: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))[None].to(device)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].detach().cpu().numpy()


# -- encode ------------------------------------------------------------------------------
@torch.no_grad()
def analyse_block(ctx: CodecContext, i: int, j: int) -> np.ndarray:
    """``y`` chunk ``(i, j)``: ``g_a`` on the block's minimal (virtually padded) window."""
    assert ctx.source is not None
    win = ctx.image_window_for_y(i, j)
    pixels = ctx.source.read_padded(win.y.start, win.y.stop, win.x.start, win.x.stop)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
    x = x.to(ctx.device, torch.float32) / 255.0
    y = run_window(ctx.graph("g_a"), x, win, ctx.layout.y_window(i, j), ctx.layout.padded_shape)
    return _numpy(y)


@torch.no_grad()
def hyper_chunk(ctx: CodecContext, i: int, j: int, y_parts: Chunks) -> tuple[np.ndarray, int]:
    """``z`` chunk ``(i, j)`` from the ``y`` chunks around it; writes its bytes; returns ``ẑ``."""
    codec = ctx.codec()
    need = ctx.y_window_for_z(i, j)
    y = _tensor(assemble(y_parts, ctx.layout.y_grid, need), ctx.device)
    z = run_window(ctx.graph("h_a"), codec.hyper_input(y), need, ctx.layout.z_window(i, j), ctx.layout.y_shape)
    data, z_hat = codec.encode_z(z)  # on the model's device, like CompressAI's compress()
    size = ctx.store().write("z", i, j, data)
    return _numpy(z_hat), size


@lru_cache(maxsize=64)
def _sheared(y_shape: tuple[int, int], tile: tuple[int, int], context: tuple) -> ShearedGrid:
    return ShearedGrid(y_shape, tile, context)


@torch.no_grad()
def entropy_params(ctx: CodecContext, i: int, j: int, z_parts: Chunks | None) -> torch.Tensor | None:
    """``h_s`` output on exactly ``y`` chunk ``(i, j)`` (``None`` without a hyperprior)."""
    if z_parts is None:
        return None
    return params_on(ctx, ctx.layout.y_window(i, j), z_parts)


@torch.no_grad()
def params_on(ctx: CodecContext, window: Window, z_parts: Chunks) -> torch.Tensor:
    """``h_s`` output on exactly the ``y`` ``window``."""
    need = ctx.z_window_for(window)
    z_hat = _tensor(assemble(z_parts, ctx.layout.z_grid, need), ctx.device)
    return run_window(ctx.graph("h_s"), z_hat, need, window, ctx.layout.z_shape)


@torch.no_grad()
def code_latent(ctx: CodecContext, i: int, j: int, y: np.ndarray, z_parts: Chunks | None) -> int:
    """Entropy-code ``y`` chunk ``(i, j)``; writes its bytes; returns their number."""
    params = entropy_params(ctx, i, j, z_parts)
    data, _ = ctx.codec().encode_y(_tensor(y, ctx.device), params)
    return ctx.store().write("y", i, j, data)


# -- decode ------------------------------------------------------------------------------
@torch.no_grad()
def decode_hyper(ctx: CodecContext, i: int, j: int) -> np.ndarray:
    """``ẑ`` chunk ``(i, j)`` from its bytes."""
    data = ctx.store().read("z", i, j)
    return _numpy(ctx.codec().decode_z(data, ctx.layout.z_window(i, j).shape))


@torch.no_grad()
def decode_latent(ctx: CodecContext, i: int, j: int, z_parts: Chunks | None) -> np.ndarray:
    """``ŷ`` chunk ``(i, j)`` from its bytes and the ``ẑ`` chunks around it."""
    params = entropy_params(ctx, i, j, z_parts)
    data = ctx.store().read("y", i, j)
    return _numpy(ctx.codec().decode_y(data, params, ctx.layout.y_window(i, j).shape))


@torch.no_grad()
def synthesise(ctx: CodecContext, window: Window, y_parts: Chunks) -> np.ndarray:
    """Pixels of a padded-image ``window`` (cropped to the real image) as ``(h, w, C)`` uint8."""
    need = ctx.y_window_for_pixels(window)
    y_hat = _tensor(gather_y(ctx, y_parts, need), ctx.device)
    x_hat = run_window(ctx.graph("g_s"), y_hat, need, window, ctx.layout.y_shape)
    x_hat = x_hat.clamp(0, 1)
    if ctx.channels == 1:
        x_hat = x_hat.mean(dim=1, keepdim=True)
    pixels = torch.round(x_hat * 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    real = window.clip(ctx.layout.image_shape)
    return pixels[: real.y.size, : real.x.size]



def gather_y(ctx: CodecContext, parts: Chunks, window: Window) -> np.ndarray:
    """``ŷ`` on ``window`` from decoded chunks (or sheared tiles), zero outside the latent."""
    if ctx.kind == "autoregressive":
        channels = next(iter(parts.values())).shape[0]
        return assemble_tiles(parts, ctx.tiles(), window, channels)
    return assemble(parts, ctx.layout.y_grid, window)


# -- phased codecs (checkerboard, ELIC) ---------------------------------------------------
@torch.no_grad()
def side_params(ctx: CodecContext, i: int, j: int, z_parts: Chunks) -> np.ndarray:
    """``h_s`` output on ``y`` chunk ``(i, j)``, computed once for all its phases."""
    return _numpy(params_on(ctx, ctx.layout.y_window(i, j), z_parts))


@torch.no_grad()
def run_phase(
    ctx: CodecContext,
    k: int,
    i: int,
    j: int,
    params: np.ndarray,
    context_parts: Chunks | None,
    y: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Phase ``k`` of chunk ``(i, j)``: encode (``y`` given; writes the phase's bytes) or
    decode. Returns the chunk's ``ŷ`` through phase ``k`` and the bytes written."""
    codec = ctx.codec()
    chunk = ctx.layout.y_window(i, j)
    have = ctx.context_window(k, i, j)
    context = None
    if have is not None and context_parts:
        context = _tensor(assemble(context_parts, ctx.layout.y_grid, have), ctx.device)
    stream = codec.phases[k].stream  # type: ignore[attr-defined]
    data = None if y is not None else ctx.store().read(stream, i, j)
    payload, y_hat = codec.phase(  # type: ignore[attr-defined]
        k, chunk=chunk, y_shape=ctx.layout.y_shape, params=_tensor(params, ctx.device),
        context=context, y=None if y is None else _tensor(y, ctx.device), data=data,
    )
    size = ctx.store().write(stream, i, j, payload) if payload is not None else 0
    return _numpy(y_hat), size


# -- autoregressive codecs: sheared tiles -------------------------------------------------
@torch.no_grad()
def code_tile(
    ctx: CodecContext,
    i: int,
    j: int,
    z_parts: Chunks,
    tile_parts: Chunks,
    y_parts: Chunks | None = None,
) -> tuple[np.ndarray, int]:
    """Sheared tile ``(i, j)``: encode (``y_parts`` given; writes its bytes) or decode.

    Returns the tile's ``ŷ`` on its bounding box (zero outside the tile) and the bytes written.
    """
    codec = ctx.codec()
    grid = ctx.tiles()
    box = grid.window(i, j)
    if box.empty:
        return np.zeros((0, 0, 0), np.float32), 0
    params = params_on(ctx, box, z_parts)
    channels = params.shape[1] // 2
    around = grid.context_window(i, j)
    if tile_parts:
        buffer = _tensor(assemble_tiles(tile_parts, grid, around, channels), ctx.device)
    else:
        buffer = params.new_zeros((1, channels, *around.shape))
    y = None if y_parts is None else _tensor(assemble(y_parts, ctx.layout.y_grid, box), ctx.device)
    data = None if y is not None else ctx.store().read("y", i, j)
    payload, y_hat = codec.code_tile(  # type: ignore[attr-defined]
        list(grid.positions(i, j)), box, params, buffer, around, y=y, data=data
    )
    size = ctx.store().write("y", i, j, payload) if payload is not None else 0
    return _numpy(y_hat), size
