"""The work of one task: pure functions of a :class:`CodecContext`, chunk indices and the
neighbouring chunks they read. The pipeline wires them into dask graphs; nothing here
knows about dask.

Every function runs its transform with :func:`tilestream.execute.run_window` on exactly the
window the plan gives, so encoder and decoder compute the entropy parameters of a chunk by
the same function on the same window.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import torch

from tilestream.container.store import ChunkStore
from tilestream.entropy import ChunkCodec, codec_for
from tilestream.execute.run import run_window
from tilestream.geometry import BlockGrid, CodecLayout, Window
from tilestream.io.base import Source
from tilestream.models.graph import LayerGraph, analyse
from tilestream.models.registry import transforms
from tilestream.models.spec import ModelSpec, load_model

__all__ = ["CodecContext", "Chunks", "assemble"]

#: chunk values keyed by (row, col)
Chunks = dict[tuple[int, int], np.ndarray]


def assemble(parts: Chunks, grid: BlockGrid, window: Window) -> np.ndarray:
    """Stitch chunks ``(C, h, w)`` of ``grid`` into one array covering ``window``."""
    first = next(iter(parts.values()))
    out = np.empty((first.shape[0], *window.shape), dtype=first.dtype)
    for index in grid.touching(window):
        if index not in parts:
            raise KeyError(f"chunk {index} needed for {window} was not provided")  # internal
        have = grid.window(*index)
        common = have.intersect(window)
        src = common.to_slices(have)
        dst = common.to_slices(window)
        out[:, dst[0], dst[1]] = parts[index][:, src[0], src[1]]
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
        win = self.graph("h_s").spatial.plan(self.layout.z_shape, self.layout.y_window(i, j))[0]
        assert win is not None
        return win

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


@torch.no_grad()
def entropy_params(ctx: CodecContext, i: int, j: int, z_parts: Chunks | None) -> torch.Tensor | None:
    """``h_s`` output on exactly ``y`` chunk ``(i, j)`` (``None`` without a hyperprior)."""
    if z_parts is None:
        return None
    need = ctx.z_window_for_y(i, j)
    z_hat = _tensor(assemble(z_parts, ctx.layout.z_grid, need), ctx.device)
    return run_window(ctx.graph("h_s"), z_hat, need, ctx.layout.y_window(i, j), ctx.layout.z_shape)


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
    y_hat = _tensor(assemble(y_parts, ctx.layout.y_grid, need), ctx.device)
    x_hat = run_window(ctx.graph("g_s"), y_hat, need, window, ctx.layout.y_shape)
    x_hat = x_hat.clamp(0, 1)
    if ctx.channels == 1:
        x_hat = x_hat.mean(dim=1, keepdim=True)
    pixels = torch.round(x_hat * 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    real = window.clip(ctx.layout.image_shape)
    return pixels[: real.y.size, : real.x.size]

