"""Where encode and decode time goes, for the bundled default model on a real 4K photo.

Each phase of the work is timed where it happens, exclusive of what it calls (a task's
``h_s`` inside entropy decoding counts as a transform, not as entropy coding):

* **read**: the source image's pixels (encode), the container's chunk bytes (decode);
* **pixels**: conversion between samples and model inputs / outputs;
* **transforms**: ``g_a``, ``h_a``, ``h_s``, ``g_s`` (exact window execution, torch);
* **entropy**: CompressAI's entropy models (``compress`` / ``decompress``: indexes and rANS);
* **write**: the container's chunk bytes (encode), the decoded image (decode);
* **scheduling**: the wavefront and task dispatch (dask's synchronous scheduler here);
* **other**: the rest of the wall time (opening, model loading, tracing, glue).

The profile runs the tasks one at a time in the calling thread (torch still uses every core
inside a transform), so that the parts add up to the wall time; the wall time of the default
run (local threads) is measured beside it, best of ``--repeat``.

Usage: python benchmarks/time_profile.py [--image PATH] [--quick] [--repeat 2] [--block 512] [--chunk N] [--out NAME.json]
Writes benchmarks/results/time_profile[_quick].json.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402

CORPUS = HERE / "corpus"
DEFAULT_IMAGE = "photos/mate-backgrounds_usr_share_backgrounds_mate_abstract_Elephants_3840x2160.jpg"  # scripts/fetch_corpus.sh

#: (module, object path, attribute, category)
PROBES = [
    ("tilestream.io.base", "Source", "read_padded", "read"),
    ("tilestream.container.store", "ChunkStore", "read", "read"),
    ("tilestream.pixels", "PixelFormat", "to_model", "pixels"),
    ("tilestream.pixels", "PixelFormat", "from_model", "pixels"),
    ("tilestream.tasks", None, "run_window", "transforms"),
    ("tilestream.tasks", None, "run_windows", "transforms"),  # same-shape windows batched (batch > 1)
    ("tilestream.entropy.elic", None, "run_window", "transforms"),
    ("compressai.entropy_models.entropy_models", "EntropyModel", "compress", "entropy"),
    ("compressai.entropy_models.entropy_models", "EntropyModel", "decompress", "entropy"),
    ("compressai.entropy_models.entropy_models", "EntropyBottleneck", "compress", "entropy"),
    ("compressai.entropy_models.entropy_models", "EntropyBottleneck", "decompress", "entropy"),
    ("compressai.entropy_models.entropy_models", "GaussianConditional", "build_indexes", "entropy"),
    ("tilestream.container.store", "ChunkStore", "write", "write"),
    ("tilestream.io.sinks", "TiffSink", "_write", "write"),
]


class Profile:
    """Exclusive wall time per category (one thread: the tasks run in the caller's)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._stack: list[list[Any]] = []
        self._owner = threading.get_ident()

    def enter(self, category: str) -> None:
        self._stack.append([category, time.perf_counter(), 0.0])

    def leave(self) -> None:
        category, start, inner = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.totals[category] = self.totals.get(category, 0.0) + elapsed - inner
        if self._stack:
            self._stack[-1][2] += elapsed

    def wrap(self, fn: Any, category: str) -> Any:
        profile = self

        if hasattr(fn, "__code__") and fn.__code__.co_flags & 0x20:  # a generator: time each step

            @functools.wraps(fn)
            def gen(*args: Any, **kwargs: Any) -> Any:
                inner = fn(*args, **kwargs)
                while True:
                    profile.enter(category)
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                    finally:
                        profile.leave()
                    yield item

            return gen

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != profile._owner:
                return fn(*args, **kwargs)
            profile.enter(category)
            try:
                return fn(*args, **kwargs)
            finally:
                profile.leave()

        return timed


@contextlib.contextmanager
def probed(profile: Profile):
    """Install the probes (and a synchronous runner); remove them on exit."""
    from tilestream.schedule import Runner

    # the modules (the package exports functions of the same names)
    dec = importlib.import_module("tilestream.pipeline.decode")
    enc = importlib.import_module("tilestream.pipeline.encode")

    undo = []
    for module, owner, attr, category in PROBES:
        target = importlib.import_module(module)
        if owner is not None:
            target = getattr(target, owner)
        original = target.__dict__[attr] if owner is not None else getattr(target, attr)
        setattr(target, attr, profile.wrap(original, category))
        undo.append((target, attr, original))
    # the wavefront is imported by name into the pipeline modules
    for mod in (dec, enc):
        undo.append((mod, "wavefront", mod.wavefront))
        mod.wavefront = profile.wrap(mod.wavefront, "scheduling")

    @contextlib.contextmanager
    def sync_runner(scheduler: Any = None, num_workers: Any = None, batch: int = 1):
        yield Runner(synchronous=True, batch=batch)

    for mod in (dec, enc):
        undo.append((mod, "runner", mod.runner))
        mod.runner = sync_runner
    try:
        yield
    finally:
        for target, attr, original in reversed(undo):
            setattr(target, attr, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default=str(CORPUS / DEFAULT_IMAGE))
    parser.add_argument("--quick", action="store_true", help="a 512² crop")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--chunk", type=int, default=None, help="entropy chunk (default: the block, as the first profile ran)")
    parser.add_argument("--out", default=None, help="result file name (default time_profile[_quick].json)")
    args = parser.parse_args()
    chunk = args.chunk or args.block
    import tempfile

    import numpy as np
    import tifffile
    from PIL import Image

    import tilestream

    pixels = np.asarray(Image.open(args.image).convert("RGB"))
    if args.quick:
        pixels = np.ascontiguousarray(pixels[:512, :512])
    rows: dict[str, Any] = {"image": Path(args.image).name, "shape": list(pixels.shape[:2]), "block": args.block, "chunk": chunk}
    with tempfile.TemporaryDirectory() as tmp:
        src, box, out = Path(tmp) / "in.tif", Path(tmp) / "c.tsz", Path(tmp) / "out.tif"
        tifffile.imwrite(src, pixels, tile=(256, 256))
        tilestream.encode(src, box, block=args.block, chunk=chunk, progress=False, overwrite=True)  # warm: model, tracing
        tilestream.decode(box, out, progress=False, overwrite=True)
        for job in ("encode", "decode"):
            run = (
                (lambda: tilestream.encode(src, box, block=args.block, chunk=chunk, progress=False, overwrite=True))
                if job == "encode"
                else (lambda: tilestream.decode(box, out, progress=False, overwrite=True))
            )
            walls = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                run()
                walls.append(time.perf_counter() - t)
            profile = Profile()
            with probed(profile):
                t = time.perf_counter()
                run()
                wall = time.perf_counter() - t
            parts = {k: round(v, 3) for k, v in sorted(profile.totals.items(), key=lambda kv: -kv[1])}
            parts["other"] = round(wall - sum(profile.totals.values()), 3)
            rows[job] = {
                "wall_threads_s": round(min(walls), 3),
                "wall_profiled_s": round(wall, 3),
                "seconds": parts,
                "share": {k: round(v / wall, 3) for k, v in parts.items()},
            }
            print(job, rows[job], flush=True)
    name = args.out or ("time_profile_quick.json" if args.quick else "time_profile.json")
    save_json(HERE / "results" / name, rows)


if __name__ == "__main__":
    main()
