"""Cut windows out of tensors that cover a known global window, zero-filling the rest."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tilestream.geometry import Window

__all__ = ["crop", "take"]


def crop(value: Any, have: Window, want: Window) -> Any:
    """Slice ``want`` out of ``value``, a tensor (or tuple of tensors) covering ``have``.

    ``want`` must lie inside ``have``.
    """
    if isinstance(value, (tuple, list)):
        return type(value)(crop(v, have, want) for v in value)
    if not have.contains(want):
        raise ValueError(f"window {want} is not inside {have}")  # internal invariant
    ys, xs = want.to_slices(have)
    return value[..., ys, xs]


def take(value: Any, have: Window, want: Window, feed: Window) -> Any:
    """A tensor over ``feed`` holding ``value`` on ``want ∩ have`` and zeros elsewhere.

    Parameters
    ----------
    value : Tensor or tuple of Tensor
        Data covering the global window ``have`` (last two axes are rows and columns).
    have : Window
        Window covered by ``value``.
    want : Window
        Window whose samples are real data (the clipped dependency of the consumer);
        samples of ``feed`` outside ``want`` are zero (the layer's zero padding).
    feed : Window
        Window of the result; must contain ``want``.
    """
    if isinstance(value, (tuple, list)):
        return type(value)(take(v, have, want, feed) for v in value)
    region = want.intersect(have).intersect(feed)
    if region.empty:
        return torch.zeros(
            (*value.shape[:-2], *feed.shape), dtype=value.dtype, device=value.device
        )
    data: Tensor = crop(value, have, region)
    pads = (
        region.x.start - feed.x.start,
        feed.x.stop - region.x.stop,
        region.y.start - feed.y.start,
        feed.y.stop - region.y.stop,
    )
    if any(pads):
        data = F.pad(data, pads)
    return data
