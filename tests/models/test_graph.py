"""Tracing real modules into layer graphs, and refusing what cannot run block-wise."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tilestream.errors import UnsupportedModuleError
from tilestream.models import analyse, build_model, transforms
from tilestream.testing import SMALL_CONFIGS


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_every_transform_of_every_model_traces(name):
    model = build_model(name, **SMALL_CONFIGS[name])
    found = transforms(model)
    expected = {"g_a", "g_s"} if name == "bmshj2018-factorized" else {"g_a", "h_a", "h_s", "g_s"}
    assert set(found) == expected
    for tname, module in found.items():
        graph = analyse(module, tname)
        kinds = {n.kind for n in graph.spatial.nodes}
        assert "conv" in kinds or "conv_transpose" in kinds
        assert all(n.path.startswith(tname) for n in graph.spatial.nodes[1:])


def test_multi_path_blocks_become_merge_nodes():
    model = build_model("cheng2020-attn", N=8)
    kinds = [n.kind for n in analyse(model.g_a).spatial.nodes]
    assert "add" in kinds and "mul" in kinds and "sigmoid" in kinds


class Pooled(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return self.body(x)


class Resized(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return F.interpolate(self.conv(x), size=(32, 32))


class GlobalMean(nn.Module):
    def forward(self, x):
        return x - x.mean(dim=(2, 3), keepdim=True)


class SpatialLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Linear(16, 16))

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize(
    "module, match",
    [
        (Pooled(), r"module AdaptiveAvgPool2d at 'body\.1' .*whole input"),
        (Resized(), r"function interpolate at '.*interpolate' .*whole input"),
        (GlobalMean(), r"method \.mean\(\) at .*whole input"),
        (SpatialLinear(), r"module Linear at 'inner\.1'"),
        (nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'"),
    ],
)
def test_global_operations_are_refused_naming_the_operation_and_path(module, match):
    with pytest.raises(UnsupportedModuleError, match=match):
        analyse(module)


def test_spatial_concatenation_is_refused():
    class CatW(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], dim=3)

    with pytest.raises(UnsupportedModuleError, match=r"cat\(dim=3\)"):
        analyse(CatW())


def test_untraceable_control_flow_is_refused_with_advice():
    class Dynamic(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x

    with pytest.raises(UnsupportedModuleError, match="cannot trace .*data-dependent control flow"):
        analyse(Dynamic())


def test_tracing_from_many_threads_at_once():
    """torch.fx patches module-level state while tracing; dask threads that trace the same
    or different transforms at once (a lazy xarray read) must not trip over each other."""
    from concurrent.futures import ThreadPoolExecutor

    from tilestream.models.registry import transforms
    from tilestream.testing import small_model

    models = [small_model("bmshj2018-hyperprior") for _ in range(3)]
    jobs = [(m, name, mod) for m in models for name, mod in transforms(m).items()]
    with ThreadPoolExecutor(8) as pool:
        graphs = list(pool.map(lambda job: analyse(job[2], job[1]), jobs * 2))
    assert all(g.name == name for g, (_, name, _) in zip(graphs, jobs * 2))
