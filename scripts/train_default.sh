#!/usr/bin/env bash
# Train tilestream's bundled default model (compact mbt2018-mean, N=64, M=96) on the
# corpus fetched by scripts/fetch_corpus.sh, held-out photos excluded:
#   1. a base model at λ=0.0067 (lr 1e-3, then 1e-4),
#   2. fine-tuned copies at λ=0.0018 (low rate) and λ=0.025 (high rate).
# Usage: scripts/train_default.sh [OUTDIR] [BASE_STEPS] [FINETUNE_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/data/default}"
BASE="${2:-1600}"
FT="${3:-400}"
mkdir -p "$OUT"
COMMON=(benchmarks/corpus/photos --exclude-heldout --model mbt2018-mean --arch N=64,M=96 --crop 128 --batch 8 --quiet --checkpoint-every 100)
python -m tilestream train "${COMMON[@]}" --lmbda 0.0067 --lr 1e-3 --steps "$BASE" --out "$OUT/base-hi-lr.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.0067 --lr 1e-4 --steps 200 --init "$OUT/base-hi-lr.pt" --out "$OUT/q2.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.0018 --lr 1e-4 --steps "$FT" --init "$OUT/q2.pt" --out "$OUT/q1.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.025 --lr 1e-4 --steps "$FT" --init "$OUT/q2.pt" --out "$OUT/q3.pt"
echo "trained: $OUT/q1.pt $OUT/q2.pt $OUT/q3.pt"
