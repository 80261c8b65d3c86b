#!/usr/bin/env bash
# Prepare a run of benchmarks/cuda_benchmark.py on a lent GPU machine (bare: Python 3.12
# with PyTorch and torchvision, none of compressai / zarr / dask, no network).
#   .whl/                   cp312 wheels of what tilestream needs there (about 4 MB)
#   benchmarks/corpus/gpu/  the real photographs the benchmark reads (about 17 MB)
# Both are git-ignored: name them in the device call's `carry` (see the benchmark's docstring).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
platforms=(--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
for pkg in compressai==1.2.8 pytorch-msssim zarr==3.1.5 numcodecs donfig crc32c dask==2026.8.0 partd locket; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$pkg"
done
python3 - <<'PY'
import shutil, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from make_mosaic import PHOTOS
from cuda_benchmark import FOUR_K
src, dst = Path("benchmarks/corpus/photos"), Path("benchmarks/corpus/gpu")
dst.mkdir(parents=True, exist_ok=True)
missing = [p for p in PHOTOS + [FOUR_K] if not (src / p).exists()]
if missing:
    sys.exit(f"{src / missing[0]} is missing; run scripts/fetch_corpus.sh first")
for p in PHOTOS + [FOUR_K]:
    shutil.copy2(src / p, dst / p)
PY
du -sh .whl benchmarks/corpus/gpu
