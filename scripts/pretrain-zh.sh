#!/usr/bin/env bash
# Recipe: Chinese character-level MLM encoder on TNEWS unlabeled headlines plus the text (not the
# labels) of the CLUE TNEWS and IFLYTEK training sets. 4 blocks, hidden 128, 4 heads, 64 tokens,
# batch 32, 2,000 steps (≈ 0.45 s/step measured on 2 busy cores with the aten backend: ≈ 15–20 min).
# Usage: scripts/pretrain-zh.sh [OUT_DIR]   (default runs/pretrain-zh). Re-running the same command
# after an interruption resumes from the last checkpoint (every 200 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${KEXUE_DATA:-../shared/data}"
OUT="${1:-runs/pretrain-zh}"
if [ -f "$OUT/checkpoint/state.json" ]; then
  exec node bin/kexue.js pretrain --out "$OUT" --resume
fi
exec node bin/kexue.js pretrain \
  --corpus "$DATA/text/tnews-unlabeled.txt" \
  --corpus "$DATA/clue/tnews/train.jsonl" \
  --corpus "$DATA/clue/iflytek/train.jsonl" \
  --lang zh --vocab-size 8000 --min-count 2 \
  --layers 4 --hidden 128 --heads 4 --seq 64 --batch-size 32 \
  --steps 2000 --lr 1e-3 --warmup 200 --seed 1 \
  --held-out 0.02 --eval-every 200 --eval-batches 8 --checkpoint-every 200 \
  --out "$OUT"
