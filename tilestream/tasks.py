"""The work of one transform task: pure functions of a :class:`CodecContext`, chunk indices
and the neighbouring chunks they read. The codec's own tasks (coding ``y``) live with the
codec in :mod:`tilestream.entropy`; the pipeline wires both into dask graphs; nothing here
knows about dask.

Every function runs its transform with :func:`tilestream.execute.run_window` on exactly the
window the plan gives, so encoder and decoder compute the entropy parameters of a chunk by
the same function on the same window. Every task returns a :class:`~tilestream.stage.Part`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from tilestream.assemble import assemble
from tilestream.container.store import ChunkStore
from tilestream.entropy import ChunkCodec, codec_for
from tilestream.entropy.base import Z_STREAM, EntropyGuard
from tilestream.execute.batch import run_windows
from tilestream.execute.constant import count
from tilestream.execute.crop import crop
from tilestream.execute.run import run_window
from tilestream.execute.tiled import stitch, tile_items
from tilestream.execute.tensors import to_numpy, to_tensor
from tilestream.geometry import CodecLayout, Window, split_window
from tilestream.geometry.shear import WAVEFRONT
from tilestream.io.base import Source
from tilestream.models.graph import LayerGraph, analyse
from tilestream.models.registry import transforms
from tilestream.models.spec import ModelSpec, load_model
from tilestream.pixels import PixelFormat
from tilestream.stage import Index, Part, values

__all__ = [
    "CodecContext",
    "analyse_block",
    "analyse_blocks",
    "decode_hyper",
    "hyper_chunk",
    "synthesise",
    "synthesise_blocks",
    "synthesise_groups",
    "synthesise_window",
]


@dataclass(frozen=True)
class CodecContext:
    """Everything a task needs, picklable: weights, layout, device, pixel format, source
    (encode) and the container's location."""

    spec: ModelSpec
    layout: CodecLayout
    device: str = "cpu"
    source: Source | None = None
    store_root: Any = None  # a path or a tilestream.storage.Location
    pixel_format: PixelFormat = field(default_factory=PixelFormat)
    #: the source bands this context codes (``None``: all of them, at most three)
    bands: tuple[int, ...] | None = None
    #: prefix of this context's streams (the band group's, ``"b1/"``; ``""`` for one group)
    stream_prefix: str = ""
    #: the encoder's arithmetic when ``y`` chunks carry index checksums (container 1.4)
    guard: EntropyGuard | None = None
    #: the transform block in pixels: ``g_a`` / ``g_s`` run over a chunk this many pixels
    #: at a time (the unit of memory; ``None``: a chunk in one piece)
    block: int | None = None
    #: the order of the samples in a serial-context tile's stream (``"wavefront"``: new
    #: containers; ``"raster"``: containers before 1.5)
    sample_order: str = WAVEFRONT

    @property
    def y_tile(self) -> int | None:
        """The transform block in ``y`` samples (``None``: a chunk in one piece)."""
        return None if self.block is None else max(1, self.block // self.layout.latent_factor)

    def band_groups(self) -> list[tuple[int, ...]]:
        """The band groups of the image (one for up to three bands)."""
        return self.pixel_format.band_groups()

    def group(self, k: int) -> CodecContext:
        """The context of band group ``k``: its bands, their pixel format, its streams."""
        bands = self.band_groups()[k]
        return replace(self, pixel_format=self.pixel_format.group(bands), bands=bands, stream_prefix=f"b{k}/")

    # -- cached per process ------------------------------------------------------------
    def model(self) -> torch.nn.Module:
        """The model on :attr:`device`, loaded once per process."""
        return load_model(self.spec, self.device)

    def codec(self) -> ChunkCodec:
        """The model's chunk codec."""
        return codec_for(self.model())

    def graph(self, name: str) -> LayerGraph:
        """The traced layer graph of transform ``name``."""
        return analyse(transforms(self.model())[name], name)

    def store(self) -> ChunkStore:
        """The container's chunk bytes."""
        if self.store_root is None:  # pragma: no cover - every pipeline context has one
            raise ValueError("this context has no container")
        return ChunkStore(self.store_root, self.stream_prefix)

    # -- windows ----------------------------------------------------------------------
    def _plan(self, name: str, shape: tuple[int, int], out: Window) -> Window:
        win = self.graph(name).spatial.plan(shape, out)[0]
        if win is None:  # pragma: no cover - transforms always read their input
            raise ValueError(f"{name} reads no input for {out}")
        return win

    def image_window_for_y(self, i: int, j: int) -> Window:
        """Padded-image window that ``g_a`` reads for ``y`` chunk ``(i, j)``."""
        return self._plan("g_a", self.layout.padded_shape, self.layout.y_window(i, j))

    def y_window_for_z(self, i: int, j: int) -> Window:
        """``y`` window that ``h_a`` reads for ``z`` chunk ``(i, j)``."""
        return self._plan("h_a", self.layout.y_shape, self.layout.z_window(i, j))

    def z_window_for(self, window: Window) -> Window:
        """``ẑ`` window that ``h_s`` reads for the parameters of a ``y`` ``window``."""
        return self._plan("h_s", self.layout.z_shape, window)

    def y_window_for_pixels(self, window: Window) -> Window:
        """``ŷ`` window that ``g_s`` reads for a padded-image ``window``."""
        return self._plan("g_s", self.layout.y_shape, window)

    # -- h_s for codecs -----------------------------------------------------------------
    @torch.no_grad()
    def side_params(self, window: Window, z_parts: dict[Index, np.ndarray]) -> torch.Tensor:
        """``h_s`` output on exactly the ``y`` ``window``, from the ``ẑ`` chunks around it."""
        need = self.z_window_for(window)
        z_hat = to_tensor(assemble(z_parts, self.layout.z_grid, need), self.device)
        return run_window(self.graph("h_s"), z_hat, need, window, self.layout.z_shape)


# -- encode ------------------------------------------------------------------------------
def _model_input(ctx: CodecContext, win: Window) -> torch.Tensor:
    """The model's input over padded-image window ``win``, read from the source."""
    if ctx.source is None:  # pragma: no cover - encode contexts always have a source
        raise ValueError("an encode context needs a source")
    pixels = ctx.source.read_padded(win.y.start, win.y.stop, win.x.start, win.x.stop)
    if ctx.bands is not None:
        pixels = pixels[..., list(ctx.bands)]
    return to_tensor(ctx.pixel_format.to_model(pixels), ctx.device)


def _analysis_tiles(ctx: CodecContext, i: int, j: int) -> tuple[list[Window], Window]:
    """The ``y`` window of chunk ``(i, j)`` cut into transform blocks, and the window."""
    out = ctx.layout.y_window(i, j)
    return ([out] if ctx.y_tile is None else split_window(out, ctx.y_tile)), out


def _analysis_item(ctx: CodecContext, piece: Window, chunk: Window) -> tuple[torch.Tensor, Window, Window]:
    """``(x, x_window, piece)`` of ``g_a`` for the ``y`` window ``piece``: the pixels of
    its minimal (virtually padded) window within the chunk's input window ``chunk``
    (:meth:`CodecContext.image_window_for_y`, which contains it), read from the source."""
    win = ctx._plan("g_a", ctx.layout.padded_shape, piece).intersect(chunk)
    return _model_input(ctx, win), win, piece


@torch.no_grad()
def analyse_block(ctx: CodecContext, i: int, j: int) -> Part:
    """``y`` chunk ``(i, j)``: ``g_a`` one transform block at a time, each block's pixels
    read on their own, so that one block's input and activations are held at a time."""
    tiles, out = _analysis_tiles(ctx, i, j)
    graph, shape, chunk = ctx.graph("g_a"), ctx.layout.padded_shape, ctx.image_window_for_y(i, j)
    return Part(to_numpy(stitch([run_window(graph, *_analysis_item(ctx, p, chunk), shape) for p in tiles], tiles, out)))


def _batched(graph: LayerGraph, inputs: list[tuple[torch.Tensor, Window, Window]], shape: tuple[int, int], tile: int | None, max_batch: int) -> list[torch.Tensor]:
    """The outputs of several windows, each cut into ``tile`` tiles, same-shape tiles of all
    of them batched (at most ``max_batch`` per forward pass)."""
    cut = [tile_items(graph, *item, shape, tile) for item in inputs]
    outs = run_windows(graph, [it for items, _ in cut for it in items], shape, max_batch=max(1, max_batch))
    results, at = [], 0
    for (items, tiles), (_, _, out) in zip(cut, inputs):
        results.append(stitch(outs[at : at + len(items)], tiles, out))
        at += len(items)
    return results


@torch.no_grad()
def analyse_blocks(ctx: CodecContext, indices: list[Index], _: list[tuple[()]]) -> list[Part]:
    """:func:`analyse_block` of several chunks, same-shape blocks of all of them as one
    batch (at most one per chunk in a forward pass)."""
    cut = [_analysis_tiles(ctx, i, j) for i, j in indices]
    chunks = [ctx.image_window_for_y(i, j) for i, j in indices]
    items = [_analysis_item(ctx, p, chunk) for (tiles, _), chunk in zip(cut, chunks) for p in tiles]
    outs = run_windows(ctx.graph("g_a"), items, ctx.layout.padded_shape, max_batch=len(indices))
    results, at = [], 0
    for tiles, out in cut:
        results.append(Part(to_numpy(stitch(outs[at : at + len(tiles)], tiles, out))))
        at += len(tiles)
    return results


@torch.no_grad()
def hyper_chunk(ctx: CodecContext, i: int, j: int, ys: dict[Index, Part]) -> Part:
    """``z`` chunk ``(i, j)`` from the ``y`` chunks around it; writes its bytes; passes ``ẑ`` on."""
    codec = ctx.codec()
    need = ctx.y_window_for_z(i, j)
    y = to_tensor(assemble(values(ys), ctx.layout.y_grid, need), ctx.device)
    z = run_window(ctx.graph("h_a"), codec.hyper_input(y), need, ctx.layout.z_window(i, j), ctx.layout.y_shape)
    data, z_hat = codec.encode_z(z)  # on the model's device, like CompressAI's compress()
    return Part(to_numpy(z_hat), ctx.store().write(Z_STREAM, i, j, data))


# -- decode ------------------------------------------------------------------------------
@torch.no_grad()
def decode_hyper(ctx: CodecContext, i: int, j: int) -> Part:
    """``ẑ`` chunk ``(i, j)`` from its bytes."""
    data = ctx.store().read(Z_STREAM, i, j)
    return Part(to_numpy(ctx.codec().decode_z(data, ctx.layout.z_window(i, j).shape)))


def _synthesis_input(ctx: CodecContext, window: Window, y_parts: dict[Index, np.ndarray]) -> tuple[torch.Tensor, Window, Window]:
    """``(ŷ, ŷ window, window)`` of ``g_s`` for a padded-image ``window``."""
    need = ctx.y_window_for_pixels(window)
    return to_tensor(ctx.codec().gather(ctx.layout, y_parts, need), ctx.device), need, window


def _to_pixels(ctx: CodecContext, window: Window, x_hat: torch.Tensor) -> np.ndarray:
    pixels = ctx.pixel_format.from_model(to_numpy(x_hat))
    real = window.clip(ctx.layout.image_shape)
    return pixels[: real.y.size, : real.x.size]


@torch.no_grad()
def synthesise(ctx: CodecContext, window: Window, y_parts: dict[Index, np.ndarray]) -> np.ndarray:
    """Pixels of a padded-image ``window`` (cropped to the real image), ``(h, w, C)`` in
    the image's pixel format.

    ``g_s`` runs one transform block of ``window`` at a time, and each block's output
    becomes pixels at once: the float output of one block is held, not of the window.
    Blocks wholly in the padding past the image are not computed."""
    fmt, graph, shape = ctx.pixel_format, ctx.graph("g_s"), ctx.layout.y_shape
    y_hat, have, _ = _synthesis_input(ctx, window, y_parts)
    real = window.clip(ctx.layout.image_shape)
    out = np.empty((*real.shape, fmt.channels), fmt.dtype)
    for piece in [window] if ctx.block is None else split_window(window, ctx.block):
        keep = piece.intersect(real)  # starts where the piece starts
        if keep.empty:
            continue
        need = ctx._plan("g_s", shape, piece).intersect(have)  # what `have` lacks reads as zeros (run_window)
        pixels = fmt.from_model(to_numpy(run_window(graph, crop(y_hat, have, need), need, piece, shape)))
        ys, xs = keep.to_slices(real)
        out[ys, xs] = pixels[: keep.y.size, : keep.x.size]
    return out


def synthesise_window(windows: tuple[Window, ...], ctx: CodecContext, n: int, _: int, *ys: dict[Index, Part]) -> Part:
    """Pixels of ``windows[n]`` (region decode: one target per window), from the ``ŷ``
    parts of each band group; in one piece (a region decode cuts large regions itself)."""
    return Part(_bands(replace(ctx, block=None), windows[n], ys))


def synthesise_groups(ctx: CodecContext, i: int, j: int, *ys: dict[Index, Part]) -> Part:
    """Pixels of image block ``(i, j)`` from the ``ŷ`` parts of each band group."""
    return Part(_bands(ctx, ctx.layout.image_window(i, j), ys))


@torch.no_grad()
def synthesise_blocks(ctx: CodecContext, indices: list[Index], args: list[tuple[dict[Index, Part], ...]]) -> list[Part]:
    """:func:`synthesise_groups` of several image blocks, same-shape windows of each band
    group as one batch."""
    windows = [ctx.layout.image_window(i, j) for i, j in indices]
    masks: list[np.ndarray | None] = [None] * len(indices)
    out: list[np.ndarray | None] = [None] * len(indices)
    for n, window in enumerate(windows):
        masks[n], out[n] = _nodata(ctx, window)
    todo = [n for n in range(len(indices)) if out[n] is None]
    groups = len(args[0]) if args else 1
    bands: list[list[np.ndarray]] = [[] for _ in indices]
    for k in range(groups):
        gctx = ctx if groups == 1 else ctx.group(k)
        items = [_synthesis_input(gctx, windows[n], values(args[n][k])) for n in todo]
        x_hats = _batched(gctx.graph("g_s"), items, gctx.layout.y_shape, gctx.block, len(items))
        for n, x_hat in zip(todo, x_hats):
            bands[n].append(_to_pixels(gctx, windows[n], x_hat))
    for n in todo:
        out[n] = _restored(ctx, _joined(bands[n]), masks[n])
    return [Part(o) for o in out]  # type: ignore[arg-type]


def _bands(ctx: CodecContext, window: Window, ys: tuple[dict[Index, Part], ...]) -> np.ndarray:
    mask, filled = _nodata(ctx, window)
    if filled is not None:
        return filled
    groups = [ctx] if len(ys) == 1 else [ctx.group(k) for k in range(len(ys))]
    return _restored(ctx, _joined([synthesise(g, window, values(y)) for g, y in zip(groups, ys)]), mask)


def _nodata(ctx: CodecContext, window: Window) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(mask, filled)`` of a padded-image ``window``: the nodata mask of its real part
    (``None`` without nodata), and the block of nodata pixels when the mask covers it all
    (no synthesis needed; else ``None``)."""
    fmt = ctx.pixel_format
    if fmt.nodata is None:
        return None, None
    real = window.clip(ctx.layout.image_shape)
    mask = read_mask(ctx, real)
    if not mask.all():
        return mask, None
    count("g_s", "nodata")
    return mask, np.full((*real.shape, fmt.channels), fmt.nodata, dtype=fmt.dtype)


def _joined(bands: list[np.ndarray]) -> np.ndarray:
    """The pixels of the band groups side by side (the one group's, unchanged)."""
    return bands[0] if len(bands) == 1 else np.concatenate(bands, axis=-1)


def _restored(ctx: CodecContext, pixels: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``pixels`` with nodata written back under ``mask`` (unchanged without one)."""
    return pixels if mask is None else ctx.pixel_format.restore(pixels, mask)


# -- nodata masks: one lossless stream over the image blocks ------------------------------
MASK_STREAM = "mask"


def code_mask(ctx: CodecContext, i: int, j: int) -> Part:
    """Write the nodata mask of image block ``(i, j)``: nothing when it has no nodata
    pixel, else its bits packed and deflated."""
    if ctx.source is None:  # pragma: no cover - encode contexts always have a source
        raise ValueError("an encode context needs a source")
    win = ctx.layout.image_window(i, j).clip(ctx.layout.image_shape)
    mask = ctx.pixel_format.mask(ctx.source.read(win.y.start, win.y.stop, win.x.start, win.x.stop))
    data = zlib.compress(np.packbits(mask).tobytes(), 9) if mask.any() else b""
    return Part(np.zeros(0, np.float32), ctx.store().write(MASK_STREAM, i, j, data))


def read_mask(ctx: CodecContext, window: Window) -> np.ndarray:
    """The nodata mask ``(h, w)`` over an image ``window``, from the blocks it touches."""
    out = np.zeros(window.shape, bool)
    store = ctx.store()
    grid = ctx.layout.image_grid
    for i, j in grid.touching(window):
        data = store.read(MASK_STREAM, i, j)
        if not data:
            continue
        block = grid.window(i, j).clip(ctx.layout.image_shape)
        bits = np.unpackbits(np.frombuffer(zlib.decompress(data), np.uint8), count=block.y.size * block.x.size)
        common = block.intersect(window)
        src, dst = common.to_slices(block), common.to_slices(window)
        out[dst[0], dst[1]] = bits.reshape(block.shape).astype(bool)[src[0], src[1]]
    return out


def in_group(k: int, fn: Callable[..., Part], ctx: CodecContext, *args: object) -> Part:
    """Run a stage function of band group ``k`` with that group's context."""
    return fn(ctx.group(k), *args)
