"""Exact block-wise execution of traced modules (torch)."""

from tilestream.execute.blockwise import blockwise, iter_blocks, resolve_device
from tilestream.execute.run import run_window

__all__ = ["blockwise", "iter_blocks", "resolve_device", "run_window"]
