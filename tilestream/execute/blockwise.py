"""The public block-wise executor: ``module(x)`` computed one output block at a time."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from tilestream.errors import TilestreamError
from tilestream.execute.run import run_window
from tilestream.geometry import BlockGrid, Window, normalise_block
from tilestream.models.graph import LayerGraph, analyse

__all__ = ["blockwise", "iter_blocks", "resolve_device"]


def resolve_device(module: nn.Module, device: str | torch.device | None) -> torch.device:
    """The device to compute on: ``device`` if given, else the module's own."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise TilestreamError(
                f"device {device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'"
            ) from exc
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def _as_tensor(x: Tensor | np.ndarray) -> Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise TilestreamError(
            f"x must be a torch.Tensor or numpy array of shape (N, C, H, W), got "
            f"{type(x).__name__}"
        )
    if x.dim() != 4:
        raise TilestreamError(
            f"x must have 4 dimensions (N, C, H, W), got shape {tuple(x.shape)}; "
            f"add a batch axis with x[None]"
        )
    return x


def iter_blocks(
    graph: LayerGraph,
    x: Tensor,
    block: int | tuple[int, int],
    device: torch.device,
) -> Iterator[tuple[Window, Tensor]]:
    """Yield ``(output window, output block)`` for every block of the output grid.

    Only the minimal input window of one block is moved to ``device`` at a time.
    """
    image_shape = (int(x.shape[-2]), int(x.shape[-1]))
    spatial = graph.spatial
    out_shape = spatial.sizes(image_shape)[spatial.output]
    grid = BlockGrid(out_shape, normalise_block(block))
    for _, window in grid:
        needed = spatial.plan(image_shape, window)[0]
        assert needed is not None  # the output always depends on the input
        ys, xs = needed.to_slices()
        piece = x[..., ys, xs].to(device)
        yield window, run_window(graph, piece, needed, window, image_shape)


def blockwise(
    module: nn.Module,
    x: Tensor | np.ndarray,
    block: int | tuple[int, int],
    *,
    device: str | torch.device | None = None,
) -> Tensor:
    """Return ``module(x)``, computed one output block at a time with minimal overlap.

    Each block of ``block × block`` output samples is computed from the smallest input
    window it depends on; at the image border every layer zero-pads its own input
    exactly as in full-image inference, so the result equals ``module(x)`` up to
    floating-point summation order (about 1e-7 relative).

    Parameters
    ----------
    module : nn.Module
        A CNN transform (e.g. a CompressAI model's ``g_a``, ``h_a``, ``h_s`` or ``g_s``)
        taking one ``(N, C, H, W)`` tensor. It is traced once and cached.
    x : Tensor or numpy.ndarray
        Input of shape ``(N, C, H, W)``; stays where it is, only block windows move.
    block : int or tuple of int
        Output block size in output samples (``(rows, cols)`` or one int for both).
    device : str or torch.device, optional
        Device to compute on; default: where the module's parameters are. The module is
        moved there (``module.to(device)``) if needed.

    Returns
    -------
    Tensor
        The output, on ``x``'s device, with the dtype the module produces.

    Raises
    ------
    UnsupportedModuleError
        If the module has an operation that cannot be computed block by block.
    GeometryError
        If ``block`` is not a positive int or pair, or the input is too small.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 5, 2, 2), nn.ReLU(), nn.Conv2d(4, 2, 3, 2, 1))
    >>> x = torch.randn(1, 3, 37, 50)
    >>> torch.allclose(blockwise(net, x, 3), net(x), atol=1e-5)
    True
    """
    x = _as_tensor(x)
    dev = resolve_device(module, device)
    if any(p.device != dev for p in module.parameters()):
        module.to(dev)
    graph = analyse(module)
    out: Tensor | None = None
    with torch.no_grad():
        for window, value in iter_blocks(graph, x, block, dev):
            if out is None:
                spatial = graph.spatial
                image_shape = (int(x.shape[-2]), int(x.shape[-1]))
                oh, ow = spatial.sizes(image_shape)[spatial.output]
                out = torch.empty(
                    (*value.shape[:-2], oh, ow), dtype=value.dtype, device=x.device
                )
            ys, xs = window.to_slices()
            out[..., ys, xs] = value.to(x.device)
    assert out is not None  # a grid has at least one block
    return out
