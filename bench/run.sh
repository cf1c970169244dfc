#!/usr/bin/env bash
# One-command side-by-side benchmark: glassbox vs PyTorch, JAX and FANN.
# Usage: bash bench/run.sh [--epochs N] [--threads N] [--only torch,jax,fann,glassbox]
#                          [--repeats N] [--quick]
# Sets up bench/.venv (pinned torch, jax[cpu], numpy) when missing or when the
# pins changed, then hands over to bench/compare.py, which compiles the FANN
# program, builds glassbox, runs everything and writes bench/RESULTS.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.bench-pins"
pins="$(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "[bench] creating virtualenv $venv" >&2
    python3 -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$pins" ]]; then
    echo "[bench] installing pinned packages (torch from PyPI pulls ~5 GB of CUDA wheels; see bench/README.md)" >&2
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt" -c "$here/constraints.txt"
    echo "$pins" > "$stamp"
fi
exec "$venv/bin/python" "$here/compare.py" "$@"
