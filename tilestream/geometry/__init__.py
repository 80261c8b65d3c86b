"""Pure integer window geometry: intervals, layer window arithmetic, graphs, grids, halos.

Nothing in this package imports torch or dask.
"""

from tilestream.geometry.axis import AxisOp, Pointwise
from tilestream.geometry.conv import Conv
from tilestream.geometry.graph import Node, SpatialGraph
from tilestream.geometry.grid import BlockGrid, normalise_block, split_window
from tilestream.geometry.halo import AxisHalo, LayerHalo, axis_halo, paper_conv_chain
from tilestream.geometry.interval import Interval, Window
from tilestream.geometry.layout import CodecLayout
from tilestream.geometry.shuffle import PixelShuffle, PixelUnshuffle
from tilestream.geometry.transposed import ConvTranspose

__all__ = [
    "AxisHalo",
    "AxisOp",
    "BlockGrid",
    "CodecLayout",
    "Conv",
    "ConvTranspose",
    "Interval",
    "LayerHalo",
    "Node",
    "PixelShuffle",
    "PixelUnshuffle",
    "Pointwise",
    "SpatialGraph",
    "Window",
    "axis_halo",
    "normalise_block",
    "paper_conv_chain",
    "split_window",
]
