"""CompressAI imported without the subpackages image coding never uses, and nothing lost by it.

Each case runs in a fresh interpreter: what an import loads is only visible there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from tilestream.models.compat import EAGER_ENV

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torchvision", "torch_geometric", "sympy", "pandas")

# Encodes a real photo with the bundled default model, decodes it, then reports what is loaded
# and what CompressAI's registries hold once they are looked at.
PROBE = r"""
import hashlib, json, sys
import numpy as np
import tilestream
from PIL import Image
from tilestream.image import open_image

tilestream.encode(np.asarray(Image.open(sys.argv[1]).convert("RGB")), sys.argv[2], quality=2)
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
pixels = np.asarray(open_image(sys.argv[2])[:, :])
import compressai
registry = compressai.registry
print(json.dumps({{
    "loaded_after_coding": loaded,
    "pixels": hashlib.sha256(pixels.tobytes()).hexdigest(),
    "coder": compressai.get_entropy_coder(),
    "version": compressai.__version__,
    "registries": {{name: sorted(getattr(registry, name)) for name in
        ("MODELS", "MODULES", "TRANSFORMS", "DATASETS", "CRITERIONS", "OPTIMIZERS", "SCHEDULERS")}},
    "subpackages": [type(getattr(compressai, n)).__name__ for n in
        ("datasets", "transforms", "losses", "optimizers", "ops", "typing")],
    "loss": compressai.losses.RateDistortionLoss.__module__,
}}))
"""


def probe(tmp_path: Path, tag: str, *, eager: bool, prelude: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k != EAGER_ENV}
    if eager:
        env[EAGER_ENV] = "1"
    out = tmp_path / f"{tag}.tsz"
    code = prelude + PROBE.format(heavy=HEAVY)
    run = subprocess.run(
        [sys.executable, "-c", code, str(DATA / "garden_520x777.png"), str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compat")
    return probe(tmp, "lean", eager=False), probe(tmp, "eager", eager=True), tmp


def test_coding_an_image_does_not_load_torchvision_or_torch_geometric(both):
    lean, eager, _ = both
    assert lean["loaded_after_coding"] == []
    # the eager import, as CompressAI does it, loads them all: the probe can see them
    assert eager["loaded_after_coding"] == sorted(HEAVY)


def test_the_lean_import_codes_the_same_pixels_and_keeps_every_name(both):
    lean, eager, tmp = both
    assert lean["pixels"] == eager["pixels"]
    assert (tmp / "lean.tsz").stat().st_size == (tmp / "eager.tsz").stat().st_size
    for key in ("coder", "version", "registries", "subpackages", "loss"):
        assert lean[key] == eager[key], key
    assert len(lean["registries"]["TRANSFORMS"]) > 100  # torchvision's, torch_geometric's, its own
    assert lean["subpackages"] == ["module"] * 6


def test_an_already_imported_compressai_is_used_as_it_is(tmp_path):
    seen = probe(tmp_path, "first", eager=False, prelude="import compressai\n")
    assert seen["loaded_after_coding"] == sorted(HEAVY)


def test_a_compressai_laid_out_otherwise_is_imported_the_usual_way():
    # Simulate a release whose __init__ the lean import cannot run: it must undo what it
    # started and fall back to the plain import, with nothing half-imported left behind.
    code = r"""
import sys
import tilestream.models.compat as compat  # tilestream.models has run the lean import: start again
assert "torchvision" not in sys.modules
for name in [n for n in sys.modules if n.split(".")[0] == "compressai"]:
    del sys.modules[name]
real = compat._load
def broken(name):
    module = real(name)
    if name == "compressai.registry":
        raise ImportError("laid out otherwise")
    return module
compat._load = broken
ca = compat.compressai()
assert "torchvision" in sys.modules, "fell back to the eager import"
assert ca is sys.modules["compressai"] and hasattr(ca, "datasets")
assert len(ca.registry.TRANSFORMS) > 100 and "mbt2018-mean" in ca.registry.MODELS
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"


def test_a_missing_name_is_an_attribute_error():
    from tilestream.models.compat import compressai

    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        compressai().no_such_thing  # noqa: B018
