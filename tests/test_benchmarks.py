"""Smoke test: every benchmark runs in its quick mode and RESULTS_quick.md gets every table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def test_run_all_quick_writes_every_table():
    done = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = (RESULTS / "RESULTS_quick.md").read_text()
    for heading in (
        "## Exactness", "## Throughput", "## Minimal overlap", "## Peak memory", "## Gigapixel run",
        "## Context models", "## CUDA",
    ):
        assert heading in text, heading
    # every table is credited to the machine its result file records (this one, just now)
    credits = [line for line in text.splitlines() if line.startswith("Measured on:")]
    assert len(credits) >= 6 and all("cores" in line and "torch" in line for line in credits), credits
    assert (RESULTS / "throughput_quick.png").stat().st_size > 1000
    # the numbers are real measurements of real runs
    exact = json.loads((RESULTS / "blockwise_vs_full_quick.json").read_text())["rows"]
    assert {r["family"] for r in exact} == {"hyperprior", "mean-scale", "checkerboard", "ELIC"}
    for r in exact:
        if "symbols_differing" in r:
            assert r["symbols_differing"] <= r["symbols"] // 1000 and r["nonzero_share"] > 0.5
        # tiny blocks (64 px) on tiny images: each chunk stream costs a few bytes of rANS flush
        assert r["encode_mpix_s"] > 0 and -1 < r["delta_bytes_percent"] < 25
    worse = json.loads((RESULTS / "overlap_minus_one_quick.json").read_text())["rows"]
    # one sample less of any transform's halo changes the coded result (bytes or pixels)
    assert all(any(v["delta_psnr_db"] != 0 or v["delta_bytes_percent"] != 0 for v in r["per_quality"].values()) for r in worse)
    overhead = json.loads((RESULTS / "bytes_overhead_quick.json").read_text())["rows"]
    assert {r["model"] for r in overhead} == {"default q1", "bmshj2018-factorized"}
    for r in overhead:  # the default chunk: within 0.5 % of CompressAI's strings, and never above a chunk per block
        if r["default_chunk"]:
            assert 0 <= r["delta_percent"] <= 0.5 and r["chunk"] == 1024
            per_block = next(o for o in overhead if o["model"] == r["model"] and o["block"] == r["block"] and not o["default_chunk"])
            assert per_block["bytes"] > r["bytes"] and per_block["chunk"] == r["block"]
    giga = json.loads((RESULTS / "gigapixel_quick.json").read_text())
    assert giga["region_equals_full_decode_crop"] and giga["psnr_db"] > 20


def test_the_prepared_cuda_run_smoke_runs_on_the_cpu():
    """The GPU script must work the first time a GPU is lent: the same steps, small, on the CPU."""
    done = subprocess.run(
        [sys.executable, "benchmarks/cuda_benchmark.py", "--device", "cpu", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((RESULTS / "cuda_quick.json").read_text())
    assert data["device"] == "cpu" and len(data["correctness"]) == 2
    for r in data["correctness"]:
        # block-wise equals full-image up to rounding ties; batching changes no chunk
        assert r["blockwise_vs_full_pixels"]["max_abs"] <= 1
        assert r["blockwise_vs_full_pixels"]["share_differing"] <= 1e-3
        assert r["batched_chunks_identical"] is True
        assert r["batched_vs_unbatched_pixels"]["max_abs"] <= 1
    assert {r["batch"] for r in data["throughput"]} == {1, 4}
    assert data["gigapixel"]["centre_crop_psnr_db"] > 25
    if not __import__("torch").cuda.is_available():  # the default device: one line, nothing measured
        plain = subprocess.run([sys.executable, "benchmarks/cuda_benchmark.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert plain.returncode == 0 and "no CUDA device here; nothing measured" in plain.stdout
