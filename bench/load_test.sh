#!/usr/bin/env bash
# Load test of `glassbox serve` on loopback: throughput and p50/p99/p99.9 latency at 1, 8
# and 64 concurrent connections, errors, and the server's RSS: at start, after a 2 s
# warm-up at 64 connections (buffers, allocator arenas and the runtime's threads are then
# in place), and after each level, which should not grow past the warm-up's.
#
#   bash bench/load_test.sh MODEL [SECONDS per level, default 10] [SERVE FLAGS…]
#
# e.g. `bash bench/load_test.sh m8.safetensors 10 --threads 2`: flags after SECONDS go to
# `glassbox serve` (its engine runs on one thread unless --threads says otherwise).
# SOAK_ROUNDS=N in the environment adds N more 5 s rounds at 64 connections at the end,
# printing the RSS after each, to see where it levels off. LEVELS="1 64 1000" changes
# the connection counts (default "1 8 64"). TOKEN=1 serves with --api-key-file (a fresh
# random token in a private file) and sends it with every request, to measure its cost.
#
# Needs wrk (Debian: apt-get install -y wrk; installed here when missing and run as
# root) and Fashion-MNIST at /usr/share/datasets/fashion-mnist (the request body is the
# first test image, sent to POST /v2/models/NAME/infer). Builds the release binary
# when missing. Bounded in time: 3 levels × SECONDS, plus start-up and the warm-up.
set -euo pipefail
model=${1:?usage: bench/load_test.sh MODEL [SECONDS] [SERVE FLAGS…]}
seconds=${2:-10}
shift $(( $# < 2 ? $# : 2 ))
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/glassbox
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "wrk is missing: apt-get install wrk" >&2; exit 1; fi
fi
[ -x "$bin" ] || (cd "$root" && cargo build --release -p glassbox-cli)
work=$(mktemp -d)
trap 'kill -TERM "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
name=$(basename "$model" .safetensors)
python3 - "$work/body.json" <<'PY'
import gzip, json, sys
raw = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()
pixels = [b / 255 for b in raw[16:16 + 784]]
json.dump({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": pixels}]},
          open(sys.argv[1], 'w'))
PY
cat > "$work/post.lua" <<'LUA'
local f = io.open(os.getenv("BODY"), "r")
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN_VALUE")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency:percentile(99.9) / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout, summary.requests))
end
LUA
token_args=()
export TOKEN_VALUE=
if [ "${TOKEN:-0}" = 1 ]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/key")
  TOKEN_VALUE=$(cat "$work/key")
  token_args=(--api-key-file "$work/key")
fi
"$bin" serve --model "$model" --port 0 "${token_args[@]}" "$@" > "$work/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^serving:' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -m1 '^serving:' "$work/out" | sed 's/^serving: //' || true)
[ -n "$url" ] || { echo "the server did not start:" >&2; cat "$work/out" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
load() { BODY="$work/body.json" wrk -t"$1" -c"$2" -d"$3" -s "$work/post.lua" "${url}v2/models/$name/infer"; }
start_rss=$(rss)
load 2 64 2s >/dev/null
echo "model $model ($name), $seconds s per level, serve flags: ${token_args[*]:+--api-key-file KEY }${*:-none}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server RSS: $start_rss kB at start, $(rss) kB after the warm-up"
echo
echo "| connections | requests/s | p50 (ms) | p99 (ms) | p99.9 (ms) | errors | requests | RSS after (kB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in ${LEVELS:-1 8 64}; do
  t=$(( c < 2 ? 1 : 2 ))
  line=$(load "$t" "$c" "${seconds}s" | grep '^RESULT')
  read -r _ rps p50 p99 p999 errors total <<<"$line"
  echo "| $c | $rps | $p50 | $p99 | $p999 | $errors | $total | $(rss) |"
done
if [ "${SOAK_ROUNDS:-0}" -gt 0 ]; then
  echo
  printf 'RSS (kB) after each of %s more 5 s rounds at 64 connections:' "$SOAK_ROUNDS"
  for _ in $(seq "$SOAK_ROUNDS"); do
    line=$(load 2 64 5s | grep '^RESULT')
    read -r _ _ _ _ _ errors _ <<<"$line"
    printf ' %s' "$(rss)"
    [ "$errors" = 0 ] || printf ' (%s errors)' "$errors"
  done
  echo
fi
