"""Fuzz: a container damaged at random (bytes, files, metadata values) decodes to identical
pixels or raises a TilestreamError -- never another exception, garbage, or a hang.

A few hundred cases here; ``benchmarks/fuzz_containers.py`` runs 10,000 (RESULTS.md).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tilestream
from tests.conftest import cached_model, photo
from tilestream.container.fuzz import KINDS, Damage, apply, container_files, outcome

#: (model, nodata): a hyperprior with a nodata mask stream, a phased and a serial context
VARIANTS = [("mbt2018-mean", 0), ("cheng2020-anchor-checkerboard", None), ("mbt2018", None)]


@pytest.fixture(scope="module")
def references():
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-"))
    made = []
    for name, nodata in VARIANTS:
        image = np.ascontiguousarray(photo("cups_190x250.png")[40:104, 60:156])  # 64 × 96
        if nodata is not None:
            image[image.min(axis=-1) == 0] = 1
            image[:20, :30] = 0
        model = cached_model(name)
        path = tmp / f"{name}.tsz"
        tilestream.encode(image, path, model=model, block=64, chunk=64, nodata=nodata, progress=False)
        with tilestream.open(path, model=model) as img:
            reference = img[:, :]
        made.append((path, model, reference, container_files(path)))
    yield made
    shutil.rmtree(tmp, ignore_errors=True)


def test_references_are_real_decodes(references):
    for path, model, reference, files in references:
        assert reference.shape == (64, 96, 3) and reference.std() > 10
        assert any(f.endswith("zarr.json") for f in files) and len(files) > 4


damages = st.lists(
    st.builds(
        Damage,
        kind=st.sampled_from(KINDS),
        target=st.integers(0, 10_000),
        offset=st.integers(0, 1 << 16),
        value=st.integers(0, 1 << 16),
    ),
    min_size=1,
    max_size=3,
)


@pytest.mark.parametrize("variant", range(len(VARIANTS)), ids=[v[0] for v in VARIANTS])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damage=damages, how=st.sampled_from(["open", "decode"]))
def test_damaged_container_decodes_identically_or_raises_tilestream_error(references, variant, damage, how):
    base, model, reference, _ = references[variant]
    work = Path(tempfile.mkdtemp(prefix="case-"))
    try:
        path = work / "c.tsz"
        shutil.copytree(base, path)
        done = apply(path, damage)

        def decode():
            if how == "open":
                with tilestream.open(path, model=model) as img:
                    return img[:, :]
            tilestream.decode(path, work / "out.zarr", model=model, progress=False, num_workers=1)
            import zarr

            return np.asarray(zarr.open_array(work / "out.zarr", mode="r")[...])

        result, message = outcome(decode, reference)
        assert result in ("identical", "refused"), (done, result, message)
        if result == "refused":
            assert "\n" not in message and len(message) < 600, message
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("variant", range(len(VARIANTS)), ids=[v[0] for v in VARIANTS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(picks=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 1 << 16)), min_size=1, max_size=3))
def test_fill_around_random_damaged_chunks_keeps_every_other_pixel(references, variant, picks):
    import zarr

    from tilestream.container import ContainerReader
    from tilestream.geometry import Window
    from tilestream.pipeline import coded_context
    from tilestream.pipeline.damage import damage_map
    from tilestream.pipeline.stages import decode_stages

    base, model, reference, files = references[variant]
    chunks = [k for k, f in enumerate(files) if not f.endswith("zarr.json")]
    work = Path(tempfile.mkdtemp(prefix="fill-"))
    try:
        path = work / "c.tsz"
        shutil.copytree(base, path)
        once = {chunks[k % len(chunks)]: offset for k, offset in picks}  # two flips could cancel
        apply(path, [Damage("flip", k, offset, 0x21) for k, offset in once.items()])
        done = tilestream.decode(path, work / "out.zarr", model=model, on_damage="fill",
                                 damage_report=work / "r.json", progress=False)
        assert done.damage is not None and 1 <= len(done.damage.damaged) <= len(picks)
        got = np.asarray(zarr.open_array(work / "out.zarr", mode="r")[...])
        with ContainerReader(path) as reader:
            ctx = coded_context(reader, model)
            dmap, _ = damage_map(ctx, decode_stages(ctx), tilestream.verify(path).damaged)
        closure = dmap.pixels(Window.full(reference.shape[:2]))
        assert done.damage.filled_pixels == closure.sum()
        assert (got[closure] == 0).all()
        np.testing.assert_array_equal(got[~closure], reference[~closure])
    finally:
        shutil.rmtree(work, ignore_errors=True)
