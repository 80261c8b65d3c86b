"""The overlap report: per transform, the halo and every layer's overlap ``l_n, r_n``."""

from __future__ import annotations

from typing import Any

from torch import nn

from tilestream.geometry import axis_halo
from tilestream.models.graph import analyse
from tilestream.models.registry import build_model, transforms

__all__ = ["overlap", "transform_overlap", "format_overlap"]


def transform_overlap(module: nn.Module, name: str = "") -> dict[str, Any]:
    """Halo report of one transform (see :func:`overlap` for the layout).

    Parameters
    ----------
    module : nn.Module
        A CNN transform.
    name : str
        Its name, used as prefix of module paths.
    """
    graph = analyse(module, name)
    rows, cols = axis_halo(graph.spatial, 0), axis_halo(graph.spatial, 1)
    layers = []
    col_layers = {layer.index: layer for layer in cols.layers}
    for layer in rows.layers:
        node = graph.spatial.nodes[layer.index]
        entry: dict[str, Any] = {"path": node.path, "kind": node.kind}
        entry.update(node.axis_op(0).describe())
        entry["l"], entry["r"] = layer.before, layer.after
        other = col_layers[layer.index]
        if (other.before, other.after) != (layer.before, layer.after):
            entry["l_x"], entry["r_x"] = other.before, other.after
        layers.append(entry)
    report: dict[str, Any] = {
        "factor": rows.factor,
        "direction": rows.direction,
        "halo": [rows.before, rows.after],
        "layers": layers,
    }
    if (cols.before, cols.after, cols.factor) != (rows.before, rows.after, rows.factor):
        report["halo_x"] = [cols.before, cols.after]
        report["factor_x"] = cols.factor
    return report


def overlap(model: nn.Module | str, *, quality: int | None = None) -> dict[str, dict[str, Any]]:
    """Minimal halos of every transform of a CompressAI model.

    Parameters
    ----------
    model : nn.Module or str
        A CompressAI model, or a name from ``compressai.registry.MODELS`` (built with
        random weights: halos do not depend on weights).
    quality : int, optional
        Zoo quality, when ``model`` is a name.

    Returns
    -------
    dict
        ``{"g_a": {"factor": 16, "direction": "down", "halo": [before, after],
        "layers": [{"path", "kind", "kernel", "stride", "l", "r"}, ...]}, "h_a": ...}``.
        For a downsampling transform of factor ``S``, output block ``[a, b)`` needs input
        ``[a·S − before, b·S + after)``; for an upsampling transform of factor ``U``,
        output ``[a·U, b·U)`` needs input ``[a − before, b + after)``. ``l``/``r`` of a
        layer are the same numbers for that layer's input feature map.

    Examples
    --------
    >>> overlap("bmshj2018-hyperprior", quality=1)["g_a"]["halo"]
    [30, 15]
    """
    if isinstance(model, str):
        model = build_model(model, quality)
    return {name: transform_overlap(module, name) for name, module in transforms(model).items()}


def context_overlap(model: nn.Module | str, *, quality: int | None = None) -> list[dict[str, Any]]:
    """The context halos of a context model's coding phases (empty for other models).

    Each entry names a ``y`` stream, its phase, and ``halo``: how many latent samples around
    a chunk (checkerboard / ELIC) or a sheared tile (serial autoregressive) it reads from
    earlier phases or tiles.

    Examples
    --------
    >>> [p["halo"] for p in context_overlap("cheng2020-anchor-checkerboard")]
    [0, 2]
    """
    from tilestream.entropy import codec_for

    if isinstance(model, str):
        model = build_model(model, quality)
    codec = codec_for(model)
    return codec.describe() if codec.has_context else []


def format_context(phases: list[dict[str, Any]]) -> str:
    """Render :func:`context_overlap`'s result as a text table."""
    if not phases:
        return ""
    lines = ["context (entropy coding phases):", f"  {'stream':<12} {'halo':>4}  phase"]
    for p in phases:
        extra = f"; context rows {p['context']}, shear {p['slope']}/row" if "context" in p else ""
        lines.append(f"  {p['stream']:<12} {p['halo']:>4}  {p['phase']} (reads {p['reads']}{extra})")
    return "\n".join(lines) + "\n"


def format_overlap(report: dict[str, dict[str, Any]]) -> str:
    """Render :func:`overlap`'s result as aligned text tables."""
    lines: list[str] = []
    for name, entry in report.items():
        arrow = "↓" if entry["direction"] == "down" else "↑" if entry["direction"] == "up" else "="
        before, after = entry["halo"]
        lines.append(
            f"{name}: {arrow}{entry['factor']}  halo before={before} after={after}"
            + (f"  (columns: {entry['halo_x']})" if "halo_x" in entry else "")
        )
        width = max([len("module path")] + [len(layer["path"]) for layer in entry["layers"]])
        lines.append(
            f"  {'module path':<{width}}  {'kind':<15} {'kernel':>6} {'stride':>6} {'l_n':>5} {'r_n':>5}"
        )
        for layer in entry["layers"]:
            lines.append(
                f"  {layer['path']:<{width}}  {layer['kind']:<15} {layer.get('kernel', ''):>6} "
                f"{layer.get('stride', ''):>6} {layer['l']:>5} {layer['r']:>5}"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
