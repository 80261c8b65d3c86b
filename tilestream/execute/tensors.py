"""Moving chunk values between numpy (what tasks pass on) and torch (what models run)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_numpy", "to_tensor"]


def to_tensor(array: np.ndarray, device: str) -> torch.Tensor:
    """``(C, h, w)`` array → ``(1, C, h, w)`` tensor on ``device``.

    For a CUDA device the array is staged in page-locked (pinned) host memory and copied
    asynchronously, so the host thread goes on (entropy coding, reading) while the copy
    runs; torch's caching host allocator keeps the staging buffer until the copy is done.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array))[None]
    if torch.device(device).type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """``(1, C, h, w)`` tensor → ``(C, h, w)`` array on the CPU."""
    return tensor[0].detach().cpu().numpy()
