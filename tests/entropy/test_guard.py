"""The cross-device guard: a decoder whose entropy parameters differ from the encoder's in
the last bits stops, naming the chunk, instead of decoding garbage.

Another device (or torch build) computes ``h_s`` and the entropy parameters with different
rounding; a scale that lands on the other side of a scale-table boundary selects another
CDF table (``GaussianConditional.build_indexes``), and rANS then decodes garbage silently
(CompressAI issues #279, #309, #320). :class:`LastBits` reproduces that on this CPU: while it
is installed, every scale that reaches ``build_indexes`` during a decode is moved by a few
units in the last place -- the scales nearest a boundary across it (the first few ulps that
change an index), or every scale by one ulp without crossing one. Nothing else of the codec
is touched.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import torch
from compressai.entropy_models import GaussianConditional

import tilestream
from tests.conftest import cached_model, compressai_reference, photo
from tilestream.container import ContainerReader
from tilestream.entropy import EntropyMismatchError
from tilestream.entropy.base import GUARD_BYTES, index_checksum
from tilestream.pipeline import decode_latent

#: every family whose CDF indexes come from h_s: hyperpriors, checkerboard, ELIC, serial context
GUARDED = ["bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor-checkerboard", "elic2022-official", "mbt2018"]
CONTEXT = {"cheng2020-anchor-checkerboard", "elic2022-official", "mbt2018"}
#: a 100×150 crop of a real photo at block 64: 2×3 chunks per stream (sheared tiles: more)
IMAGE = photo("ladybird_213x317.png")[:100, :150]
CHUNK = r"chunk y(/phase-\d+)?\[\d+, \d+\]"


def _bits(x: torch.Tensor) -> torch.Tensor:
    """The float32 bit patterns of ``x`` as int64 (ordered like the values for x > 0)."""
    return x.detach().to(torch.float32).contiguous().view(torch.int32).to(torch.int64)


class LastBits:
    """Last-bit perturbations of the scales that reach ``GaussianConditional.build_indexes``.

    Parameters
    ----------
    across : int or None
        Move every scale that is at most this many ulps from a scale-table boundary across
        it (``None``: none).
    step : int
        Move every other scale up by this many ulps, where that crosses no boundary.

    Attributes
    ----------
    nearest : int
        The fewest ulps that would move any scale seen across a boundary.
    closest : tuple
        ``(ulps, scale, boundary index, GaussianConditional)`` of that scale.
    changed : int
        CDF indexes that the perturbation changed.
    moved : int
        Scales moved.
    """

    def __init__(self, across: int | None = None, step: int = 0):
        self.across, self.step = across, step
        self.nearest: float = math.inf
        self.closest: tuple[int, float, int, GaussianConditional] | None = None
        self.changed = self.moved = 0
        self._lock = threading.Lock()
        self._original: Callable[..., torch.Tensor] | None = None

    def __enter__(self) -> LastBits:
        self._original = original = GaussianConditional.build_indexes

        def build_indexes(gc: GaussianConditional, scales: torch.Tensor) -> torch.Tensor:
            return self._perturbed(gc, scales, original)

        GaussianConditional.build_indexes = build_indexes  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        GaussianConditional.build_indexes = self._original  # type: ignore[method-assign]

    def _perturbed(self, gc: GaussianConditional, scales: torch.Tensor, original: Callable[..., torch.Tensor]) -> torch.Tensor:
        far = 1 << 40
        flat = scales.detach().reshape(-1)
        bx = _bits(flat).reshape(-1, 1)
        bt = _bits(gc.scale_table[:-1]).reshape(1, -1)
        gap = bt - bx  # >= 0: the scale is <= the boundary (counted below it)
        up = torch.where(gap >= 0, gap + 1, torch.full_like(gap, far))  # ulps up to cross
        down = torch.where(gap < 0, -gap, torch.full_like(gap, far))  # ulps down to cross
        (cost_up, k_up), (cost_down, k_down) = up.min(1), down.min(1)
        cost = torch.where(flat > 0, torch.minimum(cost_up, cost_down), torch.full_like(cost_up, far))
        move = torch.zeros_like(cost)
        if self.across is not None:
            near = cost <= self.across
            move = torch.where(near & (cost_up <= cost_down), cost_up, move)
            move = torch.where(near & (cost_up > cost_down), -cost_down, move)
        if self.step:
            free = (flat > 0) & (cost_up > self.step) & (move == 0)
            move = torch.where(free, torch.full_like(move, self.step), move)
        new_bits = (bx.reshape(-1) + move).to(torch.int32)
        nudged = new_bits.view(torch.float32).reshape(scales.shape).to(scales.dtype)
        before, after = original(gc, scales), original(gc, nudged)
        n = int(cost.argmin())
        with self._lock:
            if int(cost[n]) < self.nearest:
                k = int(k_up[n]) if cost_up[n] <= cost_down[n] else int(k_down[n])
                self.nearest = int(cost[n])
                self.closest = (int(cost[n]), float(flat[n]), k, gc)
            self.changed += int((before != after).sum())
            self.moved += int((move != 0).sum())
        return after


@lru_cache(maxsize=None)
def boundary_model(name: str) -> tuple[Any, int, int]:
    """A copy of the small test model of ``name`` whose scale table has a boundary at one
    of the scales it computes for :data:`IMAGE` (``h_s`` and the context as they are).

    A real image has millions of scales, and some always lie within an ulp of one of the
    64 boundaries; the few thousand of a test image lie hundreds to thousands of ulps from
    the nearest. Moving the nearest boundary (by a fraction of a percent) onto a scale makes
    the test image as exposed as a large one: one ulp of difference changes an index.
    Returns the model, the ulps of the nearest scale before and after.
    """
    model = copy.deepcopy(cached_model(name))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.tsz"
        tilestream.encode(IMAGE, path, model=model, block=64, chunk=64, progress=False)
        with LastBits() as probe:
            tilestream.decode(path, Path(tmp) / "out.tif", model=model, progress=False)
    assert probe.closest is not None
    before, scale, k, gc = probe.closest
    table = gc.scale_table.clone()
    table[k] = scale
    assert bool((table[1:] > table[:-1]).all())
    gc.update_scale_table(table, force=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.tsz"
        tilestream.encode(IMAGE, path, model=model, block=64, chunk=64, progress=False)
        with LastBits() as probe:
            tilestream.decode(path, Path(tmp) / "out.tif", model=model, progress=False)
    return model, before, int(probe.nearest)


def _encode(tmp_path: Path, name: str) -> tuple[Path, Any]:
    model, _, _ = boundary_model(name)
    path = tmp_path / f"{name}.tsz"
    tilestream.encode(IMAGE, path, model=model, block=64, chunk=64, progress=False)
    return path, model


def _decode(path: Path, model: Any, out: Path) -> np.ndarray:
    tilestream.decode(path, out, model=model, progress=False)
    return tifffile.imread(out)


@pytest.fixture(scope="module", params=GUARDED)
def coded(request, tmp_path_factory):
    """A guarded container of each family, its model, its honest decode and the fewest
    ulps that move one of its scales across a boundary."""
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    path, model = _encode(tmp, name)
    with LastBits() as probe:  # measures only: moves nothing
        honest = _decode(path, model, tmp / "honest.tif")
    assert probe.changed == 0 and probe.moved == 0
    _, before, after = boundary_model(name)
    print(f"{name}: nearest scale {before} ulps from a scale-table boundary; {after} with the boundary moved onto it")
    assert probe.nearest == after <= 1
    return name, path, model, honest, probe.nearest


def test_a_guarded_container_records_the_encoder_and_a_checksum_per_chunk(coded):
    name, path, model, honest, _ = coded
    with ContainerReader(str(path)) as reader:
        meta = reader.meta
        # serial contexts code their tiles in wavefront steps (1.5); the others stay 1.4
        serial = meta.model["family"] == "autoregressive"
        assert meta.sample_order == ("wavefront" if serial else "raster")
        assert meta.format_version == ("1.5" if serial else "1.4")
        guard = meta.entropy_guard
        assert guard["device"] == "cpu" and guard["torch"] == torch.__version__ and guard["device_name"]
        # every y chunk holds its checksum(s) before its rANS bytes
        y_streams = [s for s in meta.streams if s != "z"]
        rows, cols = meta.grid_shape
        for stream in y_streams:
            shape = meta.stream_grids.get(stream, (rows, cols))
            sizes = [len(reader.read(stream, i, j)) for i in range(shape[0]) for j in range(shape[1])]
            per_chunk = 2 * GUARD_BYTES if name == "mbt2018" else GUARD_BYTES
            assert min(s for s in sizes if s) > per_chunk


def test_an_honest_round_trip_decodes_what_compressai_decodes(coded):
    name, path, model, honest, _ = coded
    ref_pixels, _, y_hat_ref = compressai_reference(model, IMAGE, 64)
    ours = decode_latent(tilestream.open(path, model=model)._ctx)
    flips = int((np.abs(ours - y_hat_ref[0].numpy()) > 0.5).sum())
    # not vacuous: most symbols are non-zero
    assert float((y_hat_ref.abs() > 0.5).float().mean()) > 0.5
    allowed = max(1, y_hat_ref.numel() // 10_000) if name in CONTEXT else 0
    assert flips <= allowed
    diff = np.abs(honest.astype(int) - ref_pixels.astype(int))
    assert honest.shape == IMAGE.shape and int(diff.max()) <= 1 and float(honest.std()) > 5


def test_the_y_checksum_is_the_crc32_of_the_index_map(tmp_path):
    # mbt2018-mean: one chunk, indexes of h_s on its window, recomputed here from full-image h_s
    model = cached_model("mbt2018-mean")
    image = IMAGE[:64, :64]
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        z_hat = torch.round(model.h_a(model.g_a(x)))
        scales, _ = model.h_s(z_hat).chunk(2, 1)
    expected = index_checksum(model.gaussian_conditional.build_indexes(scales))
    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        data = reader.read("y", 0, 0)
    assert int.from_bytes(data[:GUARD_BYTES], "little") == expected


def test_last_bit_differences_that_change_an_index_stop_the_decode_naming_the_chunk(coded, tmp_path):
    name, path, model, honest, nearest = coded
    out = tmp_path / "out.tif"
    with LastBits(across=nearest) as device, pytest.raises(EntropyMismatchError) as caught:
        tilestream.decode(path, out, model=model, progress=False)
    message = str(caught.value)
    print(f"{name}: scales moved by {nearest} ulp: {device.moved} scale(s) moved, {device.changed} index(es) changed")
    assert device.changed >= 1 and nearest <= 1
    assert "\n" not in message
    assert re.match(CHUNK + r": this decoder's entropy parameters differ from the encoder's", message)
    assert "another device or torch build" in message
    with ContainerReader(str(path)) as reader:
        enc = reader.meta.entropy_guard
    assert f"encoded on {enc['device']} ({enc['device_name']}) with torch {enc['torch']}" in message
    assert "decode it on" in message and "re-encode" in message


def test_last_bit_differences_that_change_no_index_decode_identically(coded, tmp_path):
    name, path, model, honest, _ = coded
    with LastBits(step=1) as device:
        decoded = _decode(path, model, tmp_path / "out.tif")
    print(f"{name}: {device.moved} scales moved by one ulp, {device.changed} index(es) changed")
    assert device.moved > 100 and device.changed == 0
    np.testing.assert_array_equal(decoded, honest)


def test_the_cli_stops_in_one_line_with_exit_status_2(tmp_path):
    name = "mbt2018-mean"
    model, _, _ = boundary_model(name)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    path = tmp_path / "c.tsz"
    tilestream.encode(IMAGE, path, model=name, checkpoint=tmp_path / "weights.pt", block=64, chunk=64, progress=False)
    with LastBits() as probe:
        _decode(path, model, tmp_path / "honest.tif")
    # the decoding process computes its scales a few ulps off, as another device would
    script = (
        "import sys; from tilestream.models.compat import compressai; compressai(); "  # as the CLI imports it
        "from tests.entropy.test_guard import LastBits; from tilestream.cli import main; "
        f"ctx = LastBits(across={probe.nearest}); ctx.__enter__(); sys.exit(main(sys.argv[1:]))"
    )
    out = tmp_path / "out.tif"
    result = subprocess.run(
        [sys.executable, "-c", script, "decode", str(path), str(out), "--checkpoint", str(tmp_path / "weights.pt"), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("tilestream: error: chunk y[") and "entropy parameters differ" in lines[0]
    assert probe.nearest <= 1 and not out.exists()
