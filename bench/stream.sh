#!/usr/bin/env bash
# Data bigger than the process (issue 15), figures printed: 784-512-256-10, Adam, batch
# 128, one epoch of Fashion-MNIST × 25 shifts (1.5 M images, 1.18 GB of pixels) read
# from disk with --stream and loaded into memory, ROUNDS times interleaved; then the plain
# 60 000 for 25 epochs (as many examples). For each: peak RSS, training examples/s (the
# epoch alone) and test accuracy.
#   bash bench/stream.sh [DIR] [ROUNDS]
# DIR (default /tmp/fashion-aug) is written by examples/augment_fashion when absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/tmp/fashion-aug}
rounds=${2:-2}
cd "$root"
cargo build --release -p glassbox-cli -p glassbox --example augment_fashion >/dev/null 2>&1
bin=${CARGO_TARGET_DIR:-$root/target}/release/glassbox
if [ ! -f "$dir/train-images-idx3-ubyte" ]; then
  "${CARGO_TARGET_DIR:-$root/target}/release/examples/augment_fashion" "$dir"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=(--layers 512,256 --activation relu --optimizer adam --lr 0.001 --batch-size 128 --seed 1)

# run NAME ARGS…: one training run, then one line of figures.
run() {
  local name=$1
  shift
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" train "$@" "${model[@]}" --json --quiet \
    --out "$work/m.safetensors" >"$work/out.json"
  python3 - "$name" "$work/out.json" "$(cat "$work/rss")" <<'PY'
import json, sys
name, path, rss_kib = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = json.load(open(path))
epochs = run["history"]
seconds = sum(e["seconds"] for e in epochs)
print(f"{name:10} peak RSS {rss_kib / 1024:7.1f} MiB   {run['train_examples'] * len(epochs) / seconds:9.0f} examples/s"
      f"   epochs {len(epochs):2}   {seconds:6.1f} s   test accuracy {run['test_accuracy'] * 100:.2f}%")
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "file: $(du -h "$dir/train-images-idx3-ubyte" | cut -f1) of training images in $dir"
for round in $(seq 1 "$rounds"); do
  run streamed --data "$dir" --stream --epochs 1
  run in-memory --data "$dir" --epochs 1
done
run plain --data fashion-mnist --epochs 25
