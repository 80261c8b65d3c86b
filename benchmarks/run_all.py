"""Run every benchmark and regenerate benchmarks/RESULTS.md.

Each script also runs alone (``python benchmarks/NAME.py [--quick]``). ``--quick`` runs the
small version of each (seconds; no corpus needed, except by ``rd_satellite`` and
``satellite_mosaic``, which skip themselves when ``scripts/fetch_corpus.sh`` has not been
run) and writes ``results/*_quick.json`` and ``results/RESULTS_quick.md`` instead of the
published files: the test suite runs it as a smoke test.

Usage: python benchmarks/run_all.py [--quick] [--only NAME ...] [--skip NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: in the order they run; the long ones last
SCRIPTS = [
    "overlap_table",
    "exactness_transforms",
    "bytes_overhead",
    "context_models",
    "rd_default",
    "rd_satellite",
    "overlap_minus_one",
    "blockwise_vs_full",
    "memory_macs",
    "memory_streaming",
    "gigapixel",
    "memory_ab",
    "satellite_mosaic",
    "fuzz_containers",
    "cuda_benchmark",
]
#: scripts without a quick mode (cheap enough, or not run in the smoke test)
NO_QUICK = {"rd_default", "memory_streaming", "memory_ab", "cuda_benchmark"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args()
    failed = []
    for name in SCRIPTS:
        if (args.only is not None and name not in args.only) or name in args.skip:
            continue
        if args.quick and name in NO_QUICK:
            continue
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        t = time.perf_counter()
        print(f"== {name}", flush=True)
        code = subprocess.run(cmd).returncode
        print(f"== {name}: exit {code} in {time.perf_counter() - t:.0f} s", flush=True)
        if code:
            failed.append(name)
    cmd = [sys.executable, str(HERE / "write_results.py")] + (["--quick"] if args.quick else [])
    if subprocess.run(cmd).returncode:
        failed.append("write_results")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
