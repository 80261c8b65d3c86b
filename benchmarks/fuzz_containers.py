"""Fuzz damaged containers: decoding gives identical pixels or a TilestreamError, nothing else.

Encodes a small real-photo crop (64×96, block 64) with a small spread-latent model of every
family (plus a nodata image and a 4-band image, whose streams are ``mask`` and ``b0/…``,
``b1/…``), then runs N cases: each copies one container, applies one to three random damages
(:mod:`tilestream.container.fuzz`: flipped / overwritten bytes, truncated, extended, emptied
or deleted files, swapped or copied chunks, edited ``zarr.json`` values) and decodes it,
alternately with ``tilestream.open(...)[:, :]`` and ``tilestream.decode`` to a zarr array.
A case passes when it decodes identically to the undamaged container or raises a
``TilestreamError``; anything else (another exception, different pixels, a hang over
``--timeout`` seconds, a crashed process) is a failure. Cases run in a child process that
is restarted after a hang or a crash.

Usage: python benchmarks/fuzz_containers.py [--cases 10000] [--quick] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from common import save_json  # noqa: E402

RESULTS = HERE / "results"

#: (name, model, kind of image)
VARIANTS = [
    ("bmshj2018-factorized", "bmshj2018-factorized", "rgb"),
    ("bmshj2018-hyperprior", "bmshj2018-hyperprior", "rgb"),
    ("mbt2018-mean", "mbt2018-mean", "rgb"),
    ("mbt2018", "mbt2018", "rgb"),
    ("cheng2020-anchor", "cheng2020-anchor", "rgb"),
    ("cheng2020-attn", "cheng2020-attn", "rgb"),
    ("cheng2020-anchor-checkerboard", "cheng2020-anchor-checkerboard", "rgb"),
    ("elic2022-official", "elic2022-official", "rgb"),
    ("mbt2018-mean, nodata", "mbt2018-mean", "nodata"),
    ("bmshj2018-hyperprior, 4 bands", "bmshj2018-hyperprior", "bands4"),
]


def _image(kind: str):
    import numpy as np

    from tests.conftest import photo

    rgb = np.ascontiguousarray(photo("cups_190x250.png")[40:104, 60:156])
    if kind == "nodata":
        out = rgb.copy()
        out[:20, :30] = 0  # a nodata corner (nodata=0 where every band is 0)
        out[20:, :][out[20:, :].min(axis=-1) == 0] = 1
        return out
    if kind == "bands4":
        return np.concatenate([rgb, rgb[..., :1] // 2 + 50], axis=-1)
    return rgb


def _decode(how: int, path: str, model, out_dir: str):
    """Decode ``path`` with ``model``: ``how`` 0 with ``tilestream.open``, 1 with
    ``tilestream.decode``."""
    import numpy as np
    import zarr

    import tilestream

    if how == 0:
        with tilestream.open(path, model=model) as img:
            return img[:, :]
    out = os.path.join(out_dir, "out.zarr")
    shutil.rmtree(out, ignore_errors=True)
    tilestream.decode(path, out, model=model, progress=False, num_workers=1)
    return np.asarray(zarr.open_array(out, mode="r")[...])


def _worker(conn, work: str, seed: int, start: int, stop: int, picks: list[int] | None = None) -> None:
    picks = list(range(len(VARIANTS))) if picks is None else picks
    import random

    import torch

    torch.set_num_threads(1)
    from tilestream.container.fuzz import apply, container_files, outcome, random_damages

    from tests.conftest import cached_model

    import tilestream

    # the reference containers are encoded here, with the very models that decode them
    # (spreading latents in another process, with another thread count, can give weights
    # that differ in the last bits); a restarted worker encodes them again
    work = tempfile.mkdtemp(dir=work)
    refs = {}
    for n in picks:
        name, model_name, kind = VARIANTS[n]
        model = cached_model(model_name)
        base = os.path.join(work, f"ref-{n}.tsz")
        tilestream.encode(_image(kind), base, model=model, block=64, progress=False, nodata=0 if kind == "nodata" else None)
        refs[n] = (model, base, [_decode(h, base, model, work) for h in (0, 1)], container_files(base))
    for case in range(start, stop):
        rng = random.Random(seed * 1_000_003 + case)
        n = picks[case % len(picks)]
        model, base, reference, files = refs[n]
        path = os.path.join(work, f"case-{case}.tsz")
        shutil.copytree(base, path)
        chunks = [k for k, f in enumerate(files) if not f.endswith("zarr.json")]
        damages = random_damages(rng, len(files), chunks)
        done = apply(path, damages)
        how = case % 2
        t0 = time.perf_counter()
        result, message = outcome(lambda: _decode(how, path, model, work), reference[how])
        seconds = time.perf_counter() - t0
        shutil.rmtree(path, ignore_errors=True)
        conn.send((case, n, how, [d.kind for d in damages], done, result, message, seconds))
    conn.send(None)


def run(cases: int, seed: int, timeout: float, log_every: int = 500, picks: list[int] | None = None) -> dict:
    picks = list(range(len(VARIANTS))) if picks is None else picks
    work = tempfile.mkdtemp(prefix="fuzz-containers-")
    ctx = mp.get_context("spawn")
    try:
        records: list[tuple] = []
        failures: list[dict] = []
        next_case = 0
        t0 = time.perf_counter()
        while next_case < cases:
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(child, work, seed, next_case, cases, picks))
            proc.start()
            child.close()
            started = True
            while True:
                # the first case also loads the models and decodes the references
                if not parent.poll(timeout * (4 if started else 1)):
                    records.append((next_case, picks[next_case % len(picks)], next_case % 2, [], [], "hang", f"no result in {timeout} s", timeout))
                    failures.append({"case": next_case, "result": "hang"})
                    proc.kill()
                    next_case += 1
                    break
                started = False
                try:
                    item = parent.recv()
                except EOFError:
                    records.append((next_case, picks[next_case % len(picks)], next_case % 2, [], [], "crash", f"exit {proc.exitcode}", 0.0))
                    failures.append({"case": next_case, "result": "crash", "exit": proc.exitcode})
                    next_case += 1
                    break
                if item is None:
                    next_case = cases
                    break
                records.append(item)
                case, n, how, kinds, done, result, message, seconds = item
                if result not in ("identical", "refused"):
                    failures.append({"case": case, "variant": VARIANTS[n][0], "decode": ["open", "decode"][how],
                                     "damage": done, "result": result, "message": message})
                next_case = case + 1
                if len(records) % log_every == 0:
                    print(f"{len(records)} cases, {len(failures)} failures, {time.perf_counter() - t0:.0f} s", flush=True)
            proc.join(5)
            parent.close()
        seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = Counter(r[5] for r in records)
    refused_by = Counter(r[6].split(":", 1)[0] for r in records if r[5] == "refused")
    by_kind: dict[str, Counter] = {}
    for r in records:
        for kind in set(r[3]):
            by_kind.setdefault(kind, Counter())[r[5]] += 1
    by_variant: dict[str, Counter] = {}
    for r in records:
        by_variant.setdefault(VARIANTS[r[1]][0], Counter())[r[5]] += 1
    failed = {k: v for k, v in results.items() if k not in ("identical", "refused")}
    examples: dict[str, str] = {}
    for r in records:
        if r[5] == "refused":
            examples.setdefault(r[6].split(":", 1)[0], r[6][:240])
    return {
        "cases": len(records),
        "seed": seed,
        "timeout_s": timeout,
        "seconds": round(seconds, 1),
        "identical": results.get("identical", 0),
        "refused": results.get("refused", 0),
        "failures": sum(failed.values()),
        "failures_by_type": failed,
        "refused_by_type": dict(refused_by),
        "refused_examples": examples,
        "by_damage": {k: dict(v) for k, v in sorted(by_kind.items())},
        "by_variant": {k: dict(v) for k, v in by_variant.items()},
        "max_case_seconds": round(max((r[7] for r in records), default=0.0), 2),
        "failure_cases": failures[:50],
        "command": f"python benchmarks/fuzz_containers.py --cases {cases} --seed {seed}"
        + ("" if len(picks) == len(VARIANTS) else " (--quick: 4 containers)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one case may take")
    parser.add_argument("--quick", action="store_true", help="40 cases on 4 of the containers (smoke test)")
    args = parser.parse_args()
    cases = 40 if args.quick else args.cases
    data = run(cases, args.seed, args.timeout, picks=[0, 3, 6, 9] if args.quick else None)
    RESULTS.mkdir(exist_ok=True)
    name = "fuzz_containers_quick.json" if args.quick else "fuzz_containers.json"
    save_json(RESULTS / name, data)
    print(json.dumps({k: v for k, v in data.items() if k not in ("failure_cases", "refused_examples")}, indent=2))
    if data["failures"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
