"""The real PyTorch round trip of glassbox's interop (issue 12), in the benchmark venv.

    bash bench/run.sh --only glassbox --quick     # once, to make bench/.venv and the binary
    bench/.venv/bin/python bench/torch_interop.py target/release/glassbox

CI has no torch (a 5 GB wheel), so .ci/run checks the torch format with NumPy; this
script checks it with PyTorch itself:

- glassbox -> PyTorch: for each hidden activation (identity, sigmoid, tanh, relu, leaky
  ReLU, and step, imported since it cannot be trained), with and without input scaling,
  `glassbox export --format torch --script load.py` writes a state dict and a script;
  the script is run as written, and its nn.Sequential's outputs on 1000 real digits
  equal `glassbox predict`'s.
- PyTorch -> glassbox: seeded nn.Sequential models, one with a Dropout between layers
  (module indices 0, 3, 5) and one with six Linear layers (indices 0 ... 10, where "10"
  sorts before "2" as a string), saved with safetensors.torch.save_file and imported
  with `glassbox import --torch`: glassbox's outputs equal model.eval()(x).

Prints the largest difference per model; exits non-zero above TOLERANCE.
"""

import gzip
import json
import os
import runpy
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

TOLERANCE = 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "crates", "glassbox", "data", "digits.csv.gz")
BATCH = 1000


def glassbox(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"glassbox {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def predict(binary, model, csv):
    """`glassbox predict --json` as [rows, outputs], in the model's output order."""
    rows = []
    for line in glassbox(binary, "predict", "--model", model, "--json", csv).splitlines():
        record = json.loads(line)
        if record["class"] is None:
            rows.append(record["values"])
        else:
            p = record["probabilities"]
            # Class names here are the digits 0-9 or a, b, c: sorted is output order.
            rows.append([p[k] for k in sorted(p, key=lambda k: (len(k), k))])
    return np.array(rows, dtype=np.float32)


def main():
    binary = os.path.abspath(sys.argv[1])
    os.chdir(tempfile.mkdtemp(prefix="glassbox-torch-"))
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    with open("digits.csv", "w") as f:
        f.write(",".join([f"p{i}" for i in range(64)] + ["label"]) + "\n")
        for row in table:
            f.write(",".join(str(int(v)) for v in row) + "\n")
    x = table[:BATCH, :64].copy()
    with open("batch.csv", "w") as f:
        for row in x:
            f.write(",".join(str(int(v)) for v in row) + "\n")

    worst = 0.0

    def report(label, got, want):
        nonlocal worst
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print(f"{label:<52} {diff:.3g}")
        if diff > TOLERANCE:
            sys.exit(f"FAIL: {label}: outputs differ by {diff} > {TOLERANCE}")

    # glassbox -> PyTorch, through the script glassbox writes.
    models = []
    for hidden in ["identity", "sigmoid", "tanh", "relu", "leaky-relu:0.2"]:
        for scale in ["none", "standard"]:
            out = f"{hidden}-{scale}.safetensors"
            glassbox(binary, "train", "--data", "digits.csv", "--layers", "32,16", "--activation",
                     hidden, "--scale", scale, "--epochs", "3", "--quiet", "--out", out)
            models.append((f"glassbox {hidden}, scale {scale} -> torch", out))
    for scale in ["none", "standard"]:
        glassbox(binary, "export", "--model", f"relu-{scale}.safetensors", "--format", "torch",
                 "--out", "relu.torch.safetensors")
        out = f"step-{scale}.safetensors"
        glassbox(binary, "import", "--torch", "relu.torch.safetensors", "--activations",
                 "step,step,softmax", "--out", out)
        models.append((f"glassbox step (imported), scale {scale} -> torch", out))
    for label, model in models:
        glassbox(binary, "export", "--model", model, "--format", "torch", "--out",
                 "export.safetensors", "--script", "load.py")
        scope = runpy.run_path("load.py")
        module = scope["model"]
        inputs = torch.from_numpy(x)
        if "offset" in scope:
            inputs = (inputs - scope["offset"]) * scope["scale"]
        with torch.no_grad():
            got = module(inputs).numpy()
        report(label, got, predict(binary, model, "batch.csv"))

    # PyTorch -> glassbox, through safetensors.torch.save_file(model.state_dict()).
    torch.manual_seed(0)
    dropout = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.1), nn.Linear(48, 32),
                            nn.Tanh(), nn.Linear(32, 10), nn.Softmax(dim=1))
    deep = nn.Sequential(nn.Linear(64, 40), nn.LeakyReLU(0.1), nn.Linear(40, 36), nn.LeakyReLU(0.1),
                         nn.Linear(36, 30), nn.LeakyReLU(0.1), nn.Linear(30, 24), nn.LeakyReLU(0.1),
                         nn.Linear(24, 16), nn.LeakyReLU(0.1), nn.Linear(16, 3), nn.Sigmoid())
    cases = [
        ("torch Linear/ReLU/Dropout/Tanh/Softmax -> glassbox", dropout, "relu,tanh,softmax", []),
        ("torch 6 Linear layers, LeakyReLU(0.1) -> glassbox", deep,
         "leaky-relu:0.1,leaky-relu:0.1,leaky-relu:0.1,leaky-relu:0.1,leaky-relu:0.1,sigmoid",
         ["--classes", "a,b,c"]),
    ]
    for label, module, activations, extra in cases:
        module.eval()
        save_file(module.state_dict(), "state.safetensors")
        glassbox(binary, "import", "--torch", "state.safetensors", "--activations", activations,
                 *extra, "--out", "imported.safetensors")
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        report(label, predict(binary, "imported.safetensors", "batch.csv"), want)
    print(f"all agree to {TOLERANCE} (largest difference {worst:.3g})")


if __name__ == "__main__":
    main()
