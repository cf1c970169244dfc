#!/usr/bin/env bash
# HTTP beside gRPC (issue 30): the same closed-loop client (crates/glassbox-web/examples/
# oip_load.rs) against one `glassbox serve --grpc-port 0` on loopback, sharing the cores
# with it; requests/s and p50/p99 printed, nothing asserted.
#
#   bash bench/grpc_load.sh MODEL [SECONDS] [WIDTH]
#
# 1. One row per request (JSON over HTTP, raw contents over gRPC) at LEVELS connections
#    (default "1 64 1000").
# 2. A 256-row batch per request at 1 and 8 connections: JSON, binary tensors in and out
#    (Triton's extension), and gRPC.
# SKIP_BUILD=1 uses the binaries already in target/release.
set -euo pipefail
model=${1:?usage: bash bench/grpc_load.sh MODEL [SECONDS] [WIDTH]}
seconds=${2:-10}
width=${3:-784}
levels=${LEVELS:-1 64 1000}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p glassbox-cli
  cargo build --release -q -p glassbox-web --example oip_load
fi
bin=$target/release/glassbox
load=$target/release/examples/oip_load
ulimit -n "$(ulimit -Hn)"
out=$(mktemp)
"$bin" serve --model "$model" --port 0 --grpc-port 0 >"$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do [ "$(wc -l <"$out")" -ge 2 ] && break; sleep 0.1; done
http=$(sed -n 's|^serving: http://\([^/]*\)/.*|\1|p' "$out")
grpc=$(sed -n 's|^grpc: ||p' "$out")
name=$(basename "$model" .safetensors)
echo "model $model ($name), $width inputs; HTTP $http, gRPC $grpc; ${seconds} s per run; $(uptime | sed 's/.*load/load/')"
for c in $levels; do
  "$load" http "$http" "$name" "$width" "$c" "$seconds"
  "$load" grpc "$grpc" "$name" "$width" "$c" "$seconds"
done
for c in 1 8; do
  "$load" http "$http" "$name" "$width" "$c" "$seconds" 256
  "$load" http-binary "$http" "$name" "$width" "$c" "$seconds" 256
  "$load" grpc "$grpc" "$name" "$width" "$c" "$seconds" 256
done
echo "server RSS: $(grep VmRSS /proc/$server/status | awk '{print $2, $3}'), peak $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
