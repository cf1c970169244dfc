#!/usr/bin/env bash
# Soak checks (issue 14), figures printed:
#  1. RUNS (default 1000) consecutive `glassbox train` runs with a checkpoint leave no
#     temporary files behind;
#  2. a 500-epoch run keeps its resident memory flat (sampled every 0.02 s);
#  3. a long prediction loop keeps its resident memory flat (examples/predict_soak.rs).
#   bash bench/soak.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000}
cd "$root"
cargo build --release -p glassbox-cli --example predict_soak -p glassbox >/dev/null 2>&1 || cargo build --release -p glassbox-cli -p glassbox --examples
cargo build --release -p glassbox-cli >/dev/null
bin=${CARGO_TARGET_DIR:-$root/target}/release/glassbox
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== $runs consecutive runs"
before_tmp=$(ls -A "${TMPDIR:-/tmp}" | wc -l)
started=$(date +%s)
for i in $(seq 1 "$runs"); do
  (cd "$work" && "$bin" train --data xor:200 --layers 4 --epochs 2 --quiet \
     --out model.safetensors --checkpoint ck --history history.csv >/dev/null)
done
left=$(find "$work" -type f | { grep -v -E '/(model\.safetensors|history\.csv|ck/checkpoint\.safetensors|ck/command\.json)$' || true; } | wc -l)
after_tmp=$(ls -A "${TMPDIR:-/tmp}" | wc -l)
echo "runs: $runs in $(( $(date +%s) - started )) s; files left beside the outputs: $left; entries in ${TMPDIR:-/tmp}: $before_tmp before, $after_tmp after"

echo "== 500 epochs: resident memory"
"$bin" train --data digits --layers 256,128 --epochs 500 --quiet --out "$work/long.safetensors" &
pid=$!
samples=()
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && samples+=("$rss")
  sleep 0.02
done
wait "$pid"
n=${#samples[@]}
echo "samples: $n; RSS (KiB) first ${samples[0]}, at 1/4 ${samples[$((n / 4))]}, at 1/2 ${samples[$((n / 2))]}, last ${samples[$((n - 1))]}"

echo "== prediction loop"
"${CARGO_TARGET_DIR:-$root/target}/release/examples/predict_soak" 200000
