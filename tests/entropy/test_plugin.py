"""A model family written only here plugs into the real pipeline: one codec, its own streams
and stages, and nothing outside this file changes.

The family: a factorized-style analysis / synthesis whose latent is coded in two streams,
``y/even`` (even channels, zero-mean Gaussians with learned per-channel scales) and
``y/odd`` (odd channels, whose means are the 3×3 box average of the decoded even channels:
a context reaching one latent sample into the neighbouring chunks). A full-image reference
implementation below defines what block-wise coding must reproduce.
"""

from __future__ import annotations

import importlib
from functools import partial

import numpy as np
import pytest
import tifffile
import torch
import torch.nn.functional as F
from compressai.entropy_models import GaussianConditional
from compressai.models import CompressionModel, FactorizedPrior
from compressai.registry import register_model
from torch import nn

import tilestream
from tests.conftest import photo
from tests.pipeline.test_distributed import assert_same_pixels
from tilestream.assemble import assemble
from tilestream.entropy import ChunkCodec, Phase, register_codec
from tilestream.entropy.phased import grow
from tilestream.execute.tensors import to_numpy, to_tensor
from tilestream.pipeline import decode_latent
from tilestream.stage import Dep, Names, Part, Stage, values
from tilestream.testing import spread_latents, smooth_image

NAME = "tilestream-test-two-stream"
EVEN, ODD = "even", "odd"


@register_model(NAME)
class TwoStream(CompressionModel):
    """``g_a`` / ``g_s`` of a factorized prior; ``y`` coded in two Gaussian streams."""

    def __init__(self, N: int = 8, M: int = 12):
        super().__init__()
        base = FactorizedPrior(N, M)
        self.g_a, self.g_s = base.g_a, base.g_s
        self.gaussian_conditional = GaussianConditional(None)
        self.log_scales = nn.Parameter(torch.linspace(-0.5, 1.5, M))
        self.N, self.M = N, M

    @classmethod
    def from_state_dict(cls, state):
        model = cls(state["g_a.0.weight"].size(0), state["log_scales"].numel())
        model.load_state_dict(state)
        return model

    def scales(self, channels: slice, shape: tuple[int, int]) -> torch.Tensor:
        return self.log_scales[channels].exp().reshape(1, -1, 1, 1).expand(1, -1, *shape)


def odd_means(even_hat: torch.Tensor) -> torch.Tensor:
    """Means of the odd channels: 3×3 box average of the even ``ŷ`` (inputs already
    extended by one sample; zeros outside the latent)."""
    return F.avg_pool2d(even_hat, 3, stride=1)


class TwoStreamCodec(ChunkCodec):
    family = "test-two-stream"
    has_hyperprior = False

    def __init__(self, model):
        super().__init__(model)
        self.phases = (
            Phase("y/even", "even channels", 0, "its own chunk"),
            Phase("y/odd", "odd channels", 1, "even channels within 1 latent sample"),
        )

    def y_stages(self, ctx, encoding):
        lay = ctx.layout
        own_y = (Dep.own(Names.Y),) if encoding else ()
        around = Dep.through(EVEN, lambda i, j: grow(lay.y_window(i, j), 1), lay.y_grid, lay.grid_shape)
        return [
            Stage(EVEN, partial(_even, encoding), own_y, writes=encoding),
            Stage(ODD, partial(_odd, encoding), (around, *own_y), writes=encoding),
        ]


register_codec(TwoStream, TwoStreamCodec)


@torch.no_grad()
def _code(ctx, stream, i, j, y, scales, means=None):
    gc = ctx.model().gaussian_conditional
    indexes = gc.build_indexes(scales)
    if y is not None:
        (data,) = gc.compress(y, indexes, means=means)
        size = ctx.store().write(stream, i, j, data)
    else:
        data, size = ctx.store().read(stream, i, j), 0
    return gc.decompress([data], indexes, means=means), size


def _even(encoding, ctx, i, j, ys=None):
    model = ctx.model()
    shape = ctx.layout.y_window(i, j).shape
    y = to_tensor(ys[(i, j)].value, ctx.device) if encoding else None
    hat, size = _code(ctx, "y/even", i, j, None if y is None else y[:, 0::2], model.scales(slice(0, None, 2), shape))
    out = torch.zeros((1, model.M, *shape))
    out[:, 0::2] = hat
    return Part(to_numpy(out), size)


def _odd(encoding, ctx, i, j, evens, ys=None):
    model = ctx.model()
    lay = ctx.layout
    chunk = lay.y_window(i, j)
    around = to_tensor(assemble(values(evens), lay.y_grid, grow(chunk, 1)), ctx.device)
    y = to_tensor(ys[(i, j)].value, ctx.device) if encoding else None
    means = odd_means(around[:, 0::2])
    hat, size = _code(ctx, "y/odd", i, j, None if y is None else y[:, 1::2], model.scales(slice(1, None, 2), chunk.shape), means)
    out = to_tensor(evens[(i, j)].value, ctx.device).clone()
    out[:, 1::2] = hat
    return Part(to_numpy(out), size)


@torch.no_grad()
def reference_y_hat(model, image):
    """Full-image coding of the replicate-padded image, the definition block-wise must meet."""
    h, w = image.shape[:2]
    hp, wp = -(-h // 16) * 16, -(-w // 16) * 16
    padded = np.pad(image, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255
    y = model.g_a(x)
    gc = model.gaussian_conditional
    even = gc.quantize(y[:, 0::2], "dequantize")
    means = odd_means(F.pad(even, (1, 1, 1, 1)))
    odd = gc.quantize(y[:, 1::2], "dequantize", means)
    y_hat = torch.zeros_like(y)
    y_hat[:, 0::2], y_hat[:, 1::2] = even, odd
    return y_hat, y


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = spread_latents(TwoStream(8, 12), smooth_image(128, 128))
    m.update(force=True)
    return m.eval()


def _encode_decode(tmp_path, model, tag, **kwargs):
    image = photo("ladybird_213x317.png")
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image, photometric="rgb")
    container, out = tmp_path / f"{tag}.tsz", tmp_path / f"{tag}.tif"
    tilestream.encode(src, container, model=model, block=64, chunk=64, progress=False, **kwargs)
    tilestream.decode(container, out, model=model, progress=False, **kwargs)
    return image, container, tifffile.imread(out)


def test_plugged_family_codes_block_wise_exactly_like_its_full_image_definition(tmp_path, model):
    image, container, decoded = _encode_decode(tmp_path, model, "threads")
    with tilestream.open(container, model=model) as img:
        assert img.meta.streams == ("y/even", "y/odd")
        assert img.model["family"] == "test-two-stream"
        ours = decode_latent(img._ctx)
    ref, y = reference_y_hat(model, image)
    assert float((torch.round(y).abs() > 0.5).float().mean()) > 0.5  # not vacuous
    # block 64 gives 4 latent samples per chunk: every odd chunk reads its neighbours' evens
    flips = int((np.abs(ours - ref[0].numpy()) > 0.5).sum())
    assert flips <= ref.numel() // 10_000
    with torch.no_grad():
        pixels = torch.round(model.g_s(ref).clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    h, w = image.shape[:2]
    diff = np.abs(decoded.astype(int) - pixels[:h, :w].astype(int))
    assert decoded.shape == image.shape and int(diff.max()) <= 1 and int((diff != 0).sum()) <= diff.size // 10_000
    # region decode follows the family's own dependencies
    with tilestream.open(container, model=model) as img:
        np.testing.assert_array_equal(img[70:140, 100:190], decoded[70:140, 100:190])


distributed = pytest.importorskip("distributed")


def test_plugged_family_runs_on_a_local_cluster_byte_for_byte(tmp_path, model):
    _, threads, threads_px = _encode_decode(tmp_path, model, "threads")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        client.run(importlib.import_module, __name__)  # a plug-in is imported on the workers
        _, cluster_path, cluster_px = _encode_decode(tmp_path, model, "cluster", scheduler=client)
    for stream in ("y/even", "y/odd"):
        with tilestream.container.ContainerReader(threads) as a, tilestream.container.ContainerReader(cluster_path) as b:
            rows, cols = a.meta.grid_shape
            for i in range(rows):
                for j in range(cols):
                    assert a.read(stream, i, j) == b.read(stream, i, j)
    assert_same_pixels(cluster_px, threads_px)
