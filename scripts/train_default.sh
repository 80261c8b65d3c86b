#!/usr/bin/env bash
# Train tilestream's bundled default model (compact mbt2018-mean, N=64, M=96) on the
# corpus fetched by scripts/fetch_corpus.sh, held-out photos excluded. This is the recipe
# of the bundled weights (CPU, 2 cores, about 45 minutes when the machine is otherwise idle):
#   1. a base model at λ=0.0067, lr 1e-3, 10600 steps of 8 crops of 128 px
#      (the bundled base was run as 1600 steps, then resumed with --resume to 10600),
#   2. q2: the base fine-tuned at lr 1e-4 for 1500 steps (λ=0.0067),
#   3. q1 / q3: q2 fine-tuned at λ=0.0018 / λ=0.025, lr 1e-4, 1000 steps each.
# Then: python scripts/bundle_default.py benchmarks/data/default
# Usage: scripts/train_default.sh [OUTDIR] [BASE_STEPS] [Q2_STEPS] [FINETUNE_STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/data/default}"
BASE="${2:-10600}"
Q2="${3:-1500}"
FT="${4:-1000}"
mkdir -p "$OUT"
COMMON=(benchmarks/corpus/photos --exclude-heldout --model mbt2018-mean --arch N=64,M=96 --crop 128 --batch 8 --quiet --checkpoint-every 500 --log "$OUT/train.log")
python -m tilestream train "${COMMON[@]}" --lmbda 0.0067 --lr 1e-3 --steps "$BASE" --out "$OUT/base-hi-lr.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.0067 --lr 1e-4 --steps "$Q2" --init "$OUT/base-hi-lr.pt" --out "$OUT/q2.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.0018 --lr 1e-4 --steps "$FT" --init "$OUT/q2.pt" --out "$OUT/q1.pt"
python -m tilestream train "${COMMON[@]}" --lmbda 0.025 --lr 1e-4 --steps "$FT" --init "$OUT/q2.pt" --out "$OUT/q3.pt"
echo "trained: $OUT/q1.pt $OUT/q2.pt $OUT/q3.pt"
