#!/usr/bin/env bash
# Train the accuracy recipe on the public corpora into OUT_DIR and score it on the test sets.
#
#   scripts/reproduce_accuracy.sh OUT_DIR [SEED] [ENCODER] [EPOCHS]
#
# Needs ../shared (UD EWT and GUM, CoNLL-2000, SICK, GloVe 6B 50d) beside the repository.
# OUT_DIR becomes a model directory that `jmt evaluate`, `jmt tag` and `jmt pair` accept;
# the scores, wall time, machine and versions go to the section "Seed SEED" of
# results/accuracy_runs.md (replacing an earlier run of that seed). With ENCODER (a pretrained
# transformer, see scripts/reproduce_encoder.sh) they go to results/accuracy_encoder_runs.md.
# EPOCHS defaults to 16; the weights of the last four epochs are averaged (scripts/accuracy.toml).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 4 ]; then
    echo "usage: $0 OUT_DIR [SEED] [ENCODER] [EPOCHS]" >&2
    exit 2
fi
out=$1
seed=${2:-1}
encoder=${3:-}
epochs=${4:-16}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ -n "$encoder" ]; then
    # The pair heads also read the encoder's sentence vectors (results/experiments.md row 67).
    extra=(--encoder "$encoder" --set model.encoder_sentence=true)
    title="jmt accurate model ($encoder encoder) on the public corpora, seed $seed"
    results="results/accuracy_encoder_runs.md"
else
    extra=()
    title="jmt accuracy recipe on the public corpora, seed $seed"
    results="results/accuracy_runs.md"
fi
python scripts/train_real.py "$out" --config scripts/accuracy.toml --seed "$seed" \
    --epochs "$epochs" --xpos2 ${extra[@]+"${extra[@]}"} --title "$title" --results "$results" --section "Seed $seed"
