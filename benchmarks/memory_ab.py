"""Peak memory and wall time of this code against an earlier release, on one machine.

Peak RSS of a streaming encode or decode depends on thread timing (repeated runs of one
command differ by up to ~50 MiB), and machines of this kind differ in CPU, so figures
measured on different days do not show whether a change regressed. This script runs the
same three CLI commands with both versions, alternating, several times, each in a fresh
process, and reports every run and the median of each:

* ``encode`` of a 3072×32768 strip of the gigapixel mosaic (rows 0-3071 of
  ``make_mosaic.py 32768``), bundled default model, quality 2, block 512, each version's
  default chunk;
* ``decode`` of that container into a tiled BigTIFF;
* ``decode --region`` of a 1024² window from the middle of the strip;
* ``imports``: the same interpreter importing only what those commands import before they read
  a pixel (``tilestream.cli``, ``tilestream.pipeline``, ``tilestream.models`` and so CompressAI).
  A step's peak minus this is what the step itself adds.

The earlier release runs from a ``git worktree`` of ``--old`` (default 13f362c, the release
of 2026-11-27, one chunk per 512-px block).

Usage: python benchmarks/memory_ab.py [--old COMMIT] [--reps 3]
Writes benchmarks/results/memory_ab.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
from common import save_json  # noqa: E402
from memory_streaming import run_measured  # noqa: E402

STRIP_ROWS, WIDTH = 3072, 32768
REGION = "1024:2048,15872:16896"


def strip() -> Path:
    """The strip, cut from the mosaic (made by make_mosaic.py when missing)."""
    path = DATA / f"strip_{STRIP_ROWS}x{WIDTH}.tif"
    if path.exists():
        return path
    import tifffile

    mosaic = DATA / f"mosaic_{WIDTH}.tif"
    if not mosaic.exists():
        subprocess.run([sys.executable, str(HERE / "make_mosaic.py"), str(WIDTH), str(mosaic)], check=True)
    rows = tifffile.imread(mosaic, selection=(slice(0, STRIP_ROWS), slice(None), slice(None)))
    tifffile.imwrite(path, rows, photometric="rgb", tile=(512, 512), bigtiff=True)
    return path


def cli(root: Path) -> list[str]:
    """The CLI of the code at ``root``, in a fresh interpreter."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); from tilestream.cli import main; sys.exit(main())"]


def run_version(root: Path, source: Path, work: Path, tag: str) -> dict[str, dict[str, float]]:
    out = work / f"{tag}.tsz"
    commands = {
        "encode": ["encode", str(source), str(out), "--quality", "2", "--block", "512", "--overwrite", "--quiet"],
        "decode": ["decode", str(out), str(work / f"{tag}.tif"), "--overwrite", "--quiet"],
        "region": ["decode", str(out), str(work / f"{tag}_region.tif"), "--region", REGION, "--overwrite", "--quiet"],
    }
    imports = f"import sys; sys.path.insert(0, {str(root)!r}); import tilestream.cli, tilestream.pipeline, tilestream.models"
    row = {}
    for step, args in {**commands, "imports": None}.items():
        command = [sys.executable, "-c", imports] if args is None else [*cli(root), *args]
        rss, wall, _ = run_measured(command)
        row[step] = {"peak_rss_mib": round(rss), "seconds": round(wall, 1)}
        print(f"{tag:>4} {step:<6} {rss:7.0f} MiB {wall:6.1f} s", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="13f362c", help="the earlier release (a commit of this repository)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    source = strip()
    new_commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="memory-ab-") as tmp:
        work = Path(tmp)
        old_root = work / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(old_root), args.old], check=True, capture_output=True)
        try:
            runs: dict[str, list] = {"old": [], "new": []}
            for _ in range(args.reps):
                runs["old"].append(run_version(old_root, source, work, "old"))
                runs["new"].append(run_version(ROOT, source, work, "new"))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_root)], capture_output=True)
    median = {
        tag: {step: {k: statistics.median(r[step][k] for r in rows) for k in ("peak_rss_mib", "seconds")} for step in rows[0]}
        for tag, rows in runs.items()
    }
    save_json(HERE / "results" / "memory_ab.json", {
        "source": f"{source.name} (rows 0-{STRIP_ROWS - 1} of make_mosaic.py {WIDTH})",
        "region": REGION,
        "old": args.old,
        "new": new_commit,
        "reps": args.reps,
        "runs": runs,
        "median": median,
    })
    for step in median["old"]:
        o, n = median["old"][step], median["new"][step]
        above = {tag: median[tag][step]["peak_rss_mib"] - median[tag]["imports"]["peak_rss_mib"] for tag in median}
        print(f"{step}: old {o['peak_rss_mib']:.0f} MiB / {o['seconds']} s, new {n['peak_rss_mib']:.0f} MiB / {n['seconds']} s "
              f"({100 * (n['peak_rss_mib'] / o['peak_rss_mib'] - 1):+.1f} % RSS; above the imports: old {above['old']:.0f}, "
              f"new {above['new']:.0f} MiB)")


if __name__ == "__main__":
    main()
