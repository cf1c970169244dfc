#!/usr/bin/env bash
# Seeds each fuzz target's corpus with small real files: Fashion-MNIST's test IDX files
# (cut to 20 images and 100 labels, plain and gzip), CSV written from them, a PNG and a
# JPEG, a trained glassbox model, a checkpoint and a PyTorch-format export.
#   bash fuzz/seed.sh [path/to/glassbox]   (default: target/release/glassbox)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/glassbox}
fm=/usr/share/datasets/fashion-mnist
c=$root/fuzz/corpus
mkdir -p "$c"/{idx_images,idx_labels,csv,image,model,torch_import,serve_request}
python3 - "$fm" "$c" <<'PY'
import gzip, struct, sys, zlib
fm, c = sys.argv[1], sys.argv[2]
img = gzip.open(f"{fm}/t10k-images-idx3-ubyte.gz").read()
lab = gzip.open(f"{fm}/t10k-labels-idx1-ubyte.gz").read()
images = struct.pack(">IIII", 0x803, 20, 28, 28) + img[16:16 + 20 * 784]
labels = struct.pack(">II", 0x801, 100) + lab[8:108]
open(f"{c}/idx_images/twenty", "wb").write(images)
open(f"{c}/idx_images/twenty.gz", "wb").write(gzip.compress(images))
open(f"{c}/idx_labels/hundred", "wb").write(labels)
open(f"{c}/idx_labels/hundred.gz", "wb").write(gzip.compress(labels))
rows = ["label," + ",".join(f"p{i}" for i in range(16))]
for k in range(8):
    rows.append(str(lab[8 + k]) + "," + ",".join(str(b) for b in img[16 + k * 784:16 + k * 784 + 16]))
open(f"{c}/csv/classes.csv", "w").write("\n".join(rows) + "\n")
open(f"{c}/csv/quoted.csv", "w").write('x,"y, quoted",label\r\n1.5,"2",a\r\n-3e2,4,"b"\r\n')
# A 28×28 grey PNG of the first image, by hand (zlib + CRCs).
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
raw = b"".join(b"\0" + img[16 + r * 28:16 + (r + 1) * 28] for r in range(28))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f"{c}/image/first.png", "wb").write(png)
# Server requests: the first byte picks the model (0: 28×28 grey, 1: 8×8 grey, 3: 3 features)
# and the content type (byte / 4 % 3: JSON, image/png, none); the rest is the body.
import json
row = [b / 255 for b in img[16:16 + 784]]
infer = {"id": "a", "inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": row}]}
open(f"{c}/serve_request/infer", "wb").write(b"\0" + json.dumps(infer).encode())
nested = {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4.5, -6e-3, 0]]}]}
open(f"{c}/serve_request/infer_nested", "wb").write(b"\3" + json.dumps(nested).encode())
open(f"{c}/serve_request/row", "wb").write(b"\3" + b"[0.5, 1, -2]")
open(f"{c}/serve_request/rows", "wb").write(b"\x0b" + b"[[0.5, 1, -2], [3, 4, 5e10]]")
open(f"{c}/serve_request/png", "wb").write(b"\4" + png)
PY
# A JPEG, when ImageMagick or ffmpeg can make one.
if command -v convert >/dev/null; then
  convert "$c/image/first.png" "$c/image/first.jpg" || true
  if [ -f "$c/image/first.jpg" ]; then
    { printf '\0'; cat "$c/image/first.jpg"; } >"$c/serve_request/jpeg"
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" train --data digits --layers 16 --epochs 2 --quiet --out "$work/m.safetensors" --checkpoint "$work/ck"
cp "$work/m.safetensors" "$c/model/digits.safetensors"
cp "$work/ck/checkpoint.safetensors" "$c/model/checkpoint.safetensors"
"$bin" export --model "$work/m.safetensors" --format torch --out "$work/state.safetensors" >/dev/null
cp "$work/state.safetensors" "$c/torch_import/"
ls -R "$c" | head -40
