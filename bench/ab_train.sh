#!/usr/bin/env bash
# Interleaved A/B of two glassbox builds on bench/compare.py's two training workloads
# (Fashion-MNIST, 5 epochs, 2 threads, seed 1): the article network and 784-512-256-10.
# Usage: bash bench/ab_train.sh A_BINARY B_BINARY [ROUNDS]
# Prints: round workload side mean-s/epoch fastest-epoch test-accuracy
set -euo pipefail
A=$1 B=$2 rounds=${3:-3}
art="--layers 30 --activation sigmoid --output sigmoid --loss mse --optimizer sgd --lr 0.1 --batch-size 1"
mod="--layers 512,256 --activation relu --output softmax --loss cross-entropy --optimizer adam --lr 0.001 --batch-size 128"
out=$(mktemp -d)
for round in $(seq "$rounds"); do
  for w in art mod; do
    for side in A B; do
      exe=${!side}
      # shellcheck disable=SC2086
      "$exe" train --data fashion-mnist ${!w} --epochs 5 --threads 2 --seed 1 --json --quiet \
          --out "$out/model.safetensors" | tail -1 | python3 -c "
import json, sys
d = json.load(sys.stdin); s = d['seconds_per_epoch']
print('$round $w $side %.4f %.4f %.4f' % (sum(s) / len(s), min(s), d['test_accuracy']))"
    done
  done
done
rm -rf "$out"
