"""Multiply-accumulates of block-wise execution, from the block plan (halo recomputation
included), against full-image inference.

For each transform, every output block's plan (:meth:`SpatialGraph.plan`) gives the window
each layer computes; a convolution computes ``out_area · C_in/groups · C_out · k_h · k_w``
MACs, a transposed convolution ``in_area · C_in · C_out/groups · k_h · k_w``, GDN
``area · C²``. Summing over blocks gives the total; the largest block gives the peak.
"""

from __future__ import annotations

from torch import nn

from tilestream.geometry import CodecLayout, Window
from tilestream.models.graph import analyse
from tilestream.models.registry import transforms

__all__ = ["codec_macs", "plan_macs"]


def _module(root: nn.Module, name: str, path: str) -> nn.Module | None:
    inner = path[len(name) + 1 :] if path.startswith(name + ".") else path
    try:
        return root.get_submodule(inner)
    except AttributeError:
        return None


def plan_macs(module: nn.Module, name: str, input_shape: tuple[int, int], outs: list[Window]) -> list[int]:
    """MACs of computing each output window of ``module`` (a transform) from its plan."""
    graph = analyse(module, name)
    spatial = graph.spatial
    costs = []
    for index, node in enumerate(spatial.nodes):
        m = _module(module, name, node.path) if node.kind in ("conv", "conv_transpose", "pointwise") else None
        costs.append((node, m))
    result = []
    for out in outs:
        windows = spatial.plan(input_shape, out)
        total = 0
        for index, (node, m) in enumerate(costs):
            own = windows[index]
            if own is None or m is None:
                continue
            if node.kind == "conv":
                kh, kw = m.kernel_size
                total += own.shape[0] * own.shape[1] * m.in_channels // m.groups * m.out_channels * kh * kw
            elif node.kind == "conv_transpose":
                oy, ox = node.axis_op(0), node.axis_op(1)
                feed = Window(oy.feed(own.y), ox.feed(own.x))
                kh, kw = m.kernel_size
                total += feed.shape[0] * feed.shape[1] * m.in_channels * m.out_channels // m.groups * kh * kw
            elif type(m).__name__ == "GDN":
                channels = m.beta.numel()
                total += own.shape[0] * own.shape[1] * channels * channels
        result.append(total)
    return result


def codec_macs(model: nn.Module, image_shape: tuple[int, int], block: int) -> dict[str, dict[str, float]]:
    """Per transform: ``full`` MACs, block-wise ``total`` and ``peak`` (largest block), and
    ``overhead`` = total / full (halo recomputation) and ``peak_share`` = peak / full."""
    layout = CodecLayout(image_shape, block, align=64)
    found = transforms(model)
    jobs = {
        "g_a": (layout.padded_shape, [w for _, w in layout.y_grid], layout.y_shape),
        "h_a": (layout.y_shape, [w for _, w in layout.z_grid], layout.z_shape),
        "h_s": (layout.z_shape, [w for _, w in layout.y_grid], layout.y_shape),
        "g_s": (layout.y_shape, [w for _, w in layout.image_grid], layout.padded_shape),
    }
    report: dict[str, dict[str, float]] = {"full": {}, "total": {}, "peak": {}, "overhead": {}, "peak_share": {}}
    for name, (input_shape, outs, out_shape) in jobs.items():
        if name not in found:
            continue
        per_block = plan_macs(found[name], name, input_shape, outs)
        (full,) = plan_macs(found[name], name, input_shape, [Window.full(out_shape)])
        report["full"][name] = full
        report["total"][name] = sum(per_block)
        report["peak"][name] = max(per_block)
        report["overhead"][name] = sum(per_block) / full
        report["peak_share"][name] = max(per_block) / full
    for side, names in (("encoder", ("g_a", "h_a")), ("decoder", ("h_s", "g_s"))):
        full = sum(report["full"].get(n, 0) for n in names)
        report["overhead"][side] = sum(report["total"].get(n, 0) for n in names) / full
        # peak: the largest single task of the side (a g_a block or a g_s block dominates)
        report["peak_share"][side] = max(report["peak"].get(n, 0) for n in names) / full
    return report
