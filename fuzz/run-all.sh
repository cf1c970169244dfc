#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, one after another, from the
# seeded corpora (bash fuzz/seed.sh first). Needs nightly and cargo-fuzz.
#   bash fuzz/run-all.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
for target in idx_images idx_labels csv image model torch_import; do
  mkdir -p "corpus/$target"
  echo "== $target ($seconds s)"
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Done|.*Test unit written)" || true
done
