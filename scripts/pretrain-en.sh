#!/usr/bin/env bash
# Recipe: English WordPiece MLM encoder on Jane Austen's novels (paragraphs as documents; an
# 8,000-piece vocab.txt built from the text). 4 blocks, hidden 128, 4 heads, 64 tokens, batch 32,
# 2,000 steps (≈ 0.5 s/step measured on 2 busy cores with the aten backend: ≈ 17–20 min).
# Usage: scripts/pretrain-en.sh [OUT_DIR]   (default runs/pretrain-en). Re-running the same command
# after an interruption resumes from the last checkpoint (every 200 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${KEXUE_DATA:-../shared/data}"
OUT="${1:-runs/pretrain-en}"
if [ -f "$OUT/checkpoint/state.json" ]; then
  exec node bin/kexue.js pretrain --out "$OUT" --resume
fi
exec node bin/kexue.js pretrain \
  --corpus "$DATA/text/janeausten.txt" --docs paragraphs \
  --lang en --tokenizer wordpiece --vocab-size 8000 --min-count 2 \
  --layers 4 --hidden 128 --heads 4 --seq 64 --batch-size 32 \
  --steps 2000 --lr 1e-3 --warmup 200 --seed 1 \
  --held-out 0.02 --eval-every 200 --eval-batches 8 --checkpoint-every 200 \
  --out "$OUT"
