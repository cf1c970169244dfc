#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, one after another, from the
# seeded corpora (bash fuzz/seed.sh first). Needs nightly and cargo-fuzz. Exits non-zero
# when a target finds a crash (the input is in fuzz/artifacts/TARGET/; keep it in
# crates/glassbox/tests/fuzz_regressions/TARGET/ once fixed).
#   bash fuzz/run-all.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
failed=()
for target in idx_images idx_labels csv image model torch_import serve_request; do
  mkdir -p "corpus/$target"
  echo "== $target ($seconds s)"
  log=$(mktemp)
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    failed+=("$target")
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Done|.*Test unit written)" "$log" || true
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}" >&2
  exit 1
fi
