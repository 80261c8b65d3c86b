"""Turn a real ``nn.Module`` into a layer graph that can be run block by block.

The module is traced with ``torch.fx``. Convolutions, transposed convolutions, pixel
(un)shuffles and modules that act on each spatial position separately (activations, GDN,
batch norm in eval mode, ...) are kept as leaves; everything else is traced through, so
residual blocks, attention gating and channel concatenation become explicit merge nodes.
Every node becomes a :class:`~tilestream.geometry.graph.Node` (pure window arithmetic)
paired with a :class:`Step` that runs its *padding-free* computation on a window.

An operation whose output depends on the whole input (global pooling, resizing to a fixed
size, linear layers over a spatial axis, global attention, ...) or whose spatial footprint
is unknown is rejected with :class:`~tilestream.errors.UnsupportedModuleError` naming the
operation and its module path.
"""

from __future__ import annotations

import operator
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn

from tilestream.errors import UnsupportedModuleError
from tilestream.models.compat import compressai
from tilestream.geometry import (
    Conv,
    ConvTranspose,
    Node,
    PixelShuffle,
    PixelUnshuffle,
    SpatialGraph,
)

__all__ = ["LayerGraph", "Step", "analyse"]

_EXTRA_POINTWISE: tuple[type, ...] = (compressai().layers.GDN,)

_POINTWISE_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Softsign, nn.Tanhshrink, nn.Identity, nn.Dropout, nn.Dropout2d,
) + _EXTRA_POINTWISE

_ELEMENTWISE_FUNCTIONS: set[Any] = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.pow,
    operator.iadd, operator.isub, operator.imul, operator.itruediv,
    torch.add, torch.sub, torch.mul, torch.div, torch.neg, torch.pow, torch.sigmoid,
    torch.tanh, torch.relu, torch.exp, torch.log, torch.abs, torch.sqrt, torch.rsqrt,
    torch.square, torch.clamp, torch.clip, torch.maximum, torch.minimum, torch.where,
    F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, F.elu, F.softplus, F.sigmoid, F.tanh,
    F.hardtanh, F.mish, F.hardswish,
}
_INPLACE_FUNCTIONS = {
    operator.iadd: operator.add, operator.isub: operator.sub,
    operator.imul: operator.mul, operator.itruediv: operator.truediv,
}
_ELEMENTWISE_METHODS = {
    "add", "sub", "mul", "div", "neg", "pow", "sigmoid", "tanh", "relu", "exp", "log", "abs",
    "sqrt", "rsqrt", "square", "clamp", "clip", "contiguous", "float", "double", "half",
    "clone",
}
_CHANNEL_FUNCTIONS = {torch.cat, torch.concat, torch.concatenate, torch.chunk, torch.split}
_CHANNEL_METHODS = {"chunk", "split"}
_GLOBAL_HINTS = (
    "adaptive", "interpolate", "upsample", "linear", "matmul", "bmm", "einsum", "mean",
    "sum", "softmax", "attention", "norm", "view", "reshape", "flatten", "permute",
)


@dataclass(frozen=True)
class Step:
    """The padding-free computation of one node.

    Calling it with the node's operand tensors (already cropped and zero-padded to the
    feed windows, in the order of ``Node.inputs``) returns the node's output over the
    window produced by its window arithmetic.
    """

    run: Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class LayerGraph:
    """A traced module: pure :class:`SpatialGraph` plus one :class:`Step` per node."""

    spatial: SpatialGraph
    steps: tuple[Step, ...]
    name: str


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d) + _POINTWISE_MODULES):
            return True
        return super().is_leaf_module(m, qualname)


def _path(prefix: str, node: fx.Node) -> str:
    if node.op == "call_module":
        inner = str(node.target)
    else:
        stack = node.meta.get("nn_module_stack") or {}
        owner = list(stack)[-1] if stack else ""
        inner = f"{owner}.{_op_name(node)}" if owner else _op_name(node)
    return f"{prefix}.{inner}" if prefix else inner


def _op_name(node: fx.Node) -> str:
    target = node.target
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", repr(target))


def _reject(what: str, path: str, why: str) -> UnsupportedModuleError:
    return UnsupportedModuleError(
        f"{what} at {path!r} cannot be computed block by block: {why}; "
        f"tilestream supports convolutions, transposed convolutions, pixel shuffles and "
        f"operations that act on each position separately"
    )


def _why(name: str) -> str:
    lowered = name.lower()
    if any(hint in lowered for hint in _GLOBAL_HINTS):
        return "its output may depend on the whole input"
    return "its spatial footprint is unknown"


def _conv_step(m: nn.Conv2d) -> Step:
    def run(inputs: Sequence[Tensor]) -> Tensor:
        weight = m.weight
        mask = getattr(m, "mask", None)
        if isinstance(mask, Tensor):
            weight = weight * mask
        return F.conv2d(inputs[0], weight, m.bias, m.stride, 0, m.dilation, m.groups)

    return Step(run)


def _conv_transpose_step(m: nn.ConvTranspose2d) -> Step:
    def run(inputs: Sequence[Tensor]) -> Tensor:
        return F.conv_transpose2d(
            inputs[0], m.weight, m.bias, m.stride, 0, 0, m.groups, m.dilation
        )

    return Step(run)


def _module_step(m: nn.Module) -> Step:
    inplace = bool(getattr(m, "inplace", False))

    def run(inputs: Sequence[Tensor]) -> Tensor:
        x = inputs[0]
        return m(x.clone() if inplace else x)

    return Step(run)


def _module_node(
    m: nn.Module, path: str, name: str, inputs: tuple[int, ...]
) -> tuple[Node, Step]:
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros":
            raise _reject(
                f"Conv2d with padding_mode={m.padding_mode!r}", path,
                "only zero padding is reproduced exactly",
            )
        padding = m.padding
        if isinstance(padding, str):
            spans = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
            if padding == "valid":
                padding = (0, 0)
            elif all(s % 2 == 0 for s in spans):
                padding = tuple(s // 2 for s in spans)
            else:
                raise _reject("Conv2d with asymmetric padding='same'", path, "use explicit padding")
        kh, kw = _pair(m.kernel_size)
        sh, sw = _pair(m.stride)
        ph, pw = _pair(padding)
        dh, dw = _pair(m.dilation)
        ops = (Conv(kh, sh, ph, dh), Conv(kw, sw, pw, dw))
        return Node(name, path, "conv", inputs, ops), _conv_step(m)
    if isinstance(m, nn.ConvTranspose2d):
        if m.padding_mode != "zeros":
            raise _reject("ConvTranspose2d with non-zero padding mode", path, "unsupported")
        kh, kw = _pair(m.kernel_size)
        sh, sw = _pair(m.stride)
        ph, pw = _pair(m.padding)
        oh, ow = _pair(m.output_padding)
        dh, dw = _pair(m.dilation)
        ops = (ConvTranspose(kh, sh, ph, oh, dh), ConvTranspose(kw, sw, pw, ow, dw))
        return Node(name, path, "conv_transpose", inputs, ops), _conv_transpose_step(m)
    if isinstance(m, nn.PixelShuffle):
        r = m.upscale_factor
        return (
            Node(name, path, "pixel_shuffle", inputs, (PixelShuffle(r), PixelShuffle(r))),
            Step(lambda xs: F.pixel_shuffle(xs[0], r)),
        )
    if isinstance(m, nn.PixelUnshuffle):
        r = m.downscale_factor
        return (
            Node(name, path, "pixel_unshuffle", inputs, (PixelUnshuffle(r), PixelUnshuffle(r))),
            Step(lambda xs: F.pixel_unshuffle(xs[0], r)),
        )
    if isinstance(m, nn.BatchNorm2d) and not m.training:
        return Node(name, path, "pointwise", inputs), _module_step(m)
    if isinstance(m, _POINTWISE_MODULES):
        return Node(name, path, "pointwise", inputs), _module_step(m)
    raise _reject(f"module {type(m).__name__}", path, _why(type(m).__name__))


def _channel_dim_ok(dim: Any) -> bool:
    return dim in (1, -3)


def _check_channel_op(node: fx.Node, path: str) -> None:
    name = _op_name(node)
    if name in ("cat", "concat", "concatenate"):
        dim = node.kwargs.get("dim", node.kwargs.get("axis", node.args[1] if len(node.args) > 1 else 0))
    else:  # chunk / split
        dim = node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0)
    if not _channel_dim_ok(dim):
        raise _reject(f"{name}(dim={dim})", path, "only channel (dim=1) splits and joins keep positions")


def _check_getitem(node: fx.Node, path: str, producers: dict[fx.Node, str]) -> None:
    source, index = node.args[0], node.args[1]
    if isinstance(source, fx.Node) and producers.get(source) == "tuple":
        return
    items = index if isinstance(index, tuple) else (index,)
    for position, item in enumerate(items):
        if position >= 2 and item not in (slice(None), Ellipsis):
            raise _reject(f"indexing {index!r}", path, "it selects spatial positions")
        if item is Ellipsis and position < len(items) - 1:
            raise _reject(f"indexing {index!r}", path, "it may select spatial positions")


def _function_step(
    node: fx.Node, order: list[fx.Node], target: Any, root: nn.Module
) -> Step:
    positions = {n: i for i, n in enumerate(order)}

    def value(n: fx.Node, inputs: Sequence[Any]) -> Any:
        if n in positions:
            return inputs[positions[n]]
        return _fetch_attr(root, str(n.target))  # a get_attr constant

    def run(inputs: Sequence[Any]) -> Any:
        args = fx.node.map_arg(node.args, lambda n: value(n, inputs))
        kwargs = fx.node.map_arg(node.kwargs, lambda n: value(n, inputs))
        if node.op == "call_method":
            self_, *rest = args
            return getattr(self_, target)(*rest, **kwargs)
        return target(*args, **kwargs)

    return Step(run)


_CACHE: weakref.WeakKeyDictionary[nn.Module, LayerGraph] = weakref.WeakKeyDictionary()
_TRACE_LOCK = threading.RLock()


def analyse(module: nn.Module, name: str = "") -> LayerGraph:
    """Trace ``module`` into a :class:`LayerGraph` (cached per module object).

    Parameters
    ----------
    module : nn.Module
        A CNN taking one ``(N, C, H, W)`` tensor and returning one tensor.
    name : str
        Prefix for module paths in messages and reports (``"g_a"``).

    Returns
    -------
    LayerGraph

    Raises
    ------
    UnsupportedModuleError
        If an operation cannot be computed block by block, or the module cannot be traced.
    """
    cached = _CACHE.get(module)
    if cached is not None and cached.name == name:
        return cached
    with _TRACE_LOCK:  # torch.fx's patcher is global: two threads must not trace at once
        cached = _CACHE.get(module)
        if cached is not None and cached.name == name:
            return cached
        return _analyse(module, name)


def _analyse(module: nn.Module, name: str) -> LayerGraph:
    wrapped = isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.PixelShuffle,
                                  nn.PixelUnshuffle) + _POINTWISE_MODULES)
    root = nn.Sequential(module) if wrapped else module  # fx never treats the root as a leaf
    try:
        traced = _Tracer().trace(root)
    except Exception as exc:  # tracing raises many types (TraceError, TypeError, ...)
        raise UnsupportedModuleError(
            f"cannot trace {name or type(module).__name__} ({type(module).__name__}) with "
            f"torch.fx: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
            f"remove data-dependent control flow from its forward()"
        ) from exc
    submodules = dict(root.named_modules())
    index_of: dict[fx.Node, int] = {}
    producers: dict[fx.Node, str] = {}
    nodes: list[Node] = []
    steps: list[Step] = []
    output: int | None = None
    for fx_node in traced.nodes:
        path = _path(name, fx_node)
        if wrapped and fx_node.op == "call_module":
            path = name or type(module).__name__
        if fx_node.op == "placeholder":
            if nodes:
                raise UnsupportedModuleError(
                    f"{name or type(module).__name__} takes more than one input "
                    f"({fx_node.target!r}); block-wise execution needs a single image input"
                )
            index_of[fx_node] = 0
            nodes.append(Node("input", path, "input"))
            steps.append(Step(lambda xs: xs[0]))
            continue
        if fx_node.op == "get_attr":
            continue  # a constant, passed through as an argument
        if fx_node.op == "output":
            result = fx_node.args[0]
            if not isinstance(result, fx.Node) or result not in index_of:
                raise UnsupportedModuleError(
                    f"{name or type(module).__name__} must return one tensor computed from "
                    f"its input, got {result!r}"
                )
            output = index_of[result]
            continue
        sources = [n for n in fx_node.all_input_nodes if n.op != "get_attr"]
        for n in fx_node.all_input_nodes:
            if n.op == "get_attr":
                value = _fetch_attr(root, str(n.target))
                if isinstance(value, Tensor) and value.dim() >= 3 and any(s > 1 for s in value.shape[-2:]):
                    raise _reject(f"constant {n.target}", path, "it has a spatial extent")
        inputs = tuple(index_of[n] for n in sources)
        if not inputs:
            raise _reject(_op_name(fx_node), path, "it does not read the input")
        node_name = fx_node.name
        if fx_node.op == "call_module":
            node, step = _module_node(submodules[str(fx_node.target)], path, node_name, inputs)
        elif fx_node.op == "call_function":
            target = fx_node.target
            if target in _ELEMENTWISE_FUNCTIONS:
                kind = _op_name(fx_node)
                step = _function_step(fx_node, sources, _INPLACE_FUNCTIONS.get(target, target), root)
            elif target in _CHANNEL_FUNCTIONS:
                _check_channel_op(fx_node, path)
                kind = _op_name(fx_node)
                step = _function_step(fx_node, sources, target, root)
                if kind in ("chunk", "split"):
                    producers[fx_node] = "tuple"
            elif target is operator.getitem:
                _check_getitem(fx_node, path, producers)
                kind = "getitem"
                step = _function_step(fx_node, sources, target, root)
            else:
                raise _reject(f"function {_op_name(fx_node)}", path, _why(_op_name(fx_node)))
            node = Node(node_name, path, kind, inputs)
        elif fx_node.op == "call_method":
            method = str(fx_node.target)
            base = method[:-1] if method.endswith("_") else method  # never mutate in place
            if base in _ELEMENTWISE_METHODS:
                step = _function_step(fx_node, sources, base, root)
            elif base in _CHANNEL_METHODS:
                _check_channel_op(fx_node, path)
                producers[fx_node] = "tuple"
                step = _function_step(fx_node, sources, base, root)
            else:
                raise _reject(f"method .{method}()", path, _why(method))
            node = Node(node_name, path, base, inputs)
        else:  # pragma: no cover - fx has no other node kinds
            raise UnsupportedModuleError(f"unexpected fx node {fx_node.op} at {path!r}")
        index_of[fx_node] = len(nodes)
        nodes.append(node)
        steps.append(step)
    if output is None:  # pragma: no cover - fx graphs always end in an output node
        raise UnsupportedModuleError(f"{name or type(module).__name__} has no output")
    graph = LayerGraph(SpatialGraph(tuple(nodes), output), tuple(steps), name)
    _CACHE[module] = graph
    return graph


def _fetch_attr(module: nn.Module, target: str) -> Any:
    value: Any = module
    for part in target.split("."):
        value = getattr(value, part)
    return value
