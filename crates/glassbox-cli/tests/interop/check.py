"""Checks glassbox's exports against the real runtimes (run by .ci/run in a venv).

    python check.py GLASSBOX_BINARY [--fashion-mnist DIR]

For every hidden activation (step, identity, sigmoid, tanh, relu, leaky ReLU) and output
(softmax, sigmoid, identity), with and without input scaling, a model made by the
`glassbox` binary (trained on the embedded 8x8 digits, or imported from a PyTorch state
dict for step, which cannot be trained) is

- exported with `glassbox export --format onnx`: `onnx.checker.check_model` accepts it,
  and ONNX Runtime's outputs on 1000 real digits (one batch) and on one digit (batch 1)
  equal `glassbox predict --json`'s on the same CSV rows to TOLERANCE;
- exported with `glassbox export --format torch`: the tensors are named and shaped as
  nn.Sequential(Linear, act, Linear, act, ...) names them, the script compiles, and a
  NumPy forward pass over those tensors (no torch here) equals glassbox's to TOLERANCE.

A hand-made model whose weighted sums are exactly 0 checks that the step fires at 0 in
ONNX Runtime as in glassbox. Prints one line per model with the largest differences, and
exits non-zero on the first failure.
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

TOLERANCE = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "..", "..", "glassbox", "data", "digits.csv.gz")
BATCH = 1000


def run(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"glassbox {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def glassbox_outputs(binary, model, csv, class_names):
    """`glassbox predict --json` as a [rows, outputs] float32 array."""
    rows = []
    for line in run(binary, "predict", "--model", model, "--json", csv).splitlines():
        record = json.loads(line)
        if record["class"] is None:
            rows.append(record["values"])
        else:
            # Probabilities are keyed by class name; put them back in output order.
            rows.append([record["probabilities"][name] for name in class_names])
    return np.array(rows, dtype=np.float32)


def write_csv(path, features):
    with open(path, "w") as f:
        for row in features:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def metadata(model):
    return {p.key: p.value for p in model.metadata_props}


def activation(name, z):
    """glassbox's activations, in NumPy (float32)."""
    if name == "step":
        return (z >= 0).astype(np.float32)
    if name == "identity":
        return z
    if name == "sigmoid":
        return (1 / (1 + np.exp(-z))).astype(np.float32)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name.startswith("leaky-relu"):
        alpha = np.float32(name.split(":")[1]) if ":" in name else np.float32(0.01)
        return np.where(z > 0, z, alpha * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def check_onnx(binary, work, model, batch_csv, one_csv, x, x1):
    """Exports `model` to ONNX, checks it, and returns the largest differences."""
    path = os.path.join(work, "model.onnx")
    run(binary, "export", "--model", model, "--format", "onnx", "--out", path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version >= 8 and proto.opset_import[0].version >= 13, proto.opset_import
    shape = proto.graph.input[0].type.tensor_type.shape.dim
    assert shape[0].dim_param == "batch" and shape[1].dim_value == x.shape[1], shape
    meta = metadata(proto)
    assert "glassbox_version" in meta, meta
    names = json.loads(meta.get("class_names", "[]"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    diffs = []
    for features, csv in [(x, batch_csv), (x1, one_csv)]:
        (got,) = session.run(None, {"input": features})
        want = glassbox_outputs(binary, model, csv, names)
        assert got.shape == want.shape, (got.shape, want.shape)
        diffs.append(float(np.abs(got - want).max()))
    ops = [n.op_type for n in proto.graph.node]
    return diffs, ops, meta


def check_torch(binary, work, model, batch_csv, x):
    """Exports `model` in the torch format, checks names, shapes and a NumPy forward pass."""
    path = os.path.join(work, "model.torch.safetensors")
    script = os.path.join(work, "model.py")
    run(binary, "export", "--model", model, "--format", "torch", "--out", path, "--script", script)
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header.get("__metadata__", {})
    assert meta.get("format") == "pt", meta
    acts = meta["glassbox_activations"].split(",")
    tensors = load_file(path)
    expected = {f"{2 * l}.{k}" for l in range(len(acts)) for k in ("weight", "bias")}
    scaled = "input.offset" in tensors
    if scaled:
        expected |= {"input.offset", "input.scale"}
    assert set(tensors) == expected, sorted(tensors)
    with open(script) as f:
        text = f.read()
    compile(text, script, "exec")
    a = x.copy()
    if scaled:
        a = (a - tensors["input.offset"]) * tensors["input.scale"]
    inputs = x.shape[1]
    for l, name in enumerate(acts):
        w, b = tensors[f"{2 * l}.weight"], tensors[f"{2 * l}.bias"]
        assert w.dtype == np.float32 and w.ndim == 2 and w.shape[1] == inputs, (l, w.shape)
        assert b.shape == (w.shape[0],), (l, b.shape)
        assert f"nn.Linear({w.shape[1]}, {w.shape[0]})" in text, text
        inputs = w.shape[0]
        a = activation(name, a @ w.T + b)
    names = json.loads(meta.get("glassbox_class_names", "[]"))
    want = glassbox_outputs(binary, model, batch_csv, names)
    return float(np.abs(a - want).max())


def main():
    binary = os.path.abspath(sys.argv[1])
    fashion = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--fashion-mnist" else None
    work = tempfile.mkdtemp(prefix="glassbox-interop-")
    os.chdir(work)
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    header = ",".join([f"p{i}" for i in range(64)] + ["label"])
    with open("digits.csv", "w") as f:
        f.write(header + "\n")
        for row in table:
            f.write(",".join(str(int(v)) for v in row) + "\n")
    x = table[:BATCH, :64].copy()  # raw pixel counts 0-16: the scaling is the model's
    write_csv("batch.csv", x)
    write_csv("one.csv", x[:1])
    x1 = x[:1].copy()

    models = []  # (label, model file)
    for hidden in ["identity", "sigmoid", "tanh", "relu", "leaky-relu:0.2"]:
        for scale in ["none", "standard"]:
            out = f"{hidden}-{scale}.safetensors"
            run(binary, "train", "--data", "digits.csv", "--layers", "32,16", "--activation", hidden,
                "--scale", scale, "--epochs", "3", "--quiet", "--out", out)
            models.append((f"{hidden} → softmax, scale {scale}", out))
    for output, loss in [("sigmoid", "mse"), ("identity", "mse")]:
        out = f"out-{output}.safetensors"
        run(binary, "train", "--data", "digits.csv", "--layers", "16", "--output", output, "--loss", loss,
            "--scale", "minmax", "--epochs", "3", "--quiet", "--out", out)
        models.append((f"relu → {output}, scale minmax", out))
    # Step cannot be trained: the trained relu networks' weights, imported with steps.
    for scale in ["none", "standard"]:
        state = f"relu-{scale}.torch.safetensors"
        run(binary, "export", "--model", f"relu-{scale}.safetensors", "--format", "torch", "--out", state)
        out = f"step-{scale}.safetensors"
        run(binary, "import", "--torch", state, "--activations", "step,step,softmax", "--out", out)
        models.append((f"step → softmax, scale {scale} (imported)", out))
    # Weighted sums exactly 0: zero weights and biases in some neurons; glassbox's step
    # gives 1 there. The output layer sums the hidden outputs, so a step that fired at 0
    # in one runtime and not in the other differs by a whole 1.
    w0 = np.zeros((4, 64), np.float32)
    w0[1, :] = 1.0
    w0[3, :] = -1.0
    save_file({"0.weight": w0, "0.bias": np.zeros(4, np.float32),
               "2.weight": np.array([[1, 2, 4, 8]], np.float32), "2.bias": np.zeros(1, np.float32)},
              "zero.torch.safetensors")
    run(binary, "import", "--torch", "zero.torch.safetensors", "--activations", "step,identity",
        "--out", "zero.safetensors")
    models.append(("step at z = 0 → identity (imported)", "zero.safetensors"))

    if fashion:
        run(binary, "train", "--data", fashion, "--layers", "64", "--activation", "relu", "--epochs", "1",
            "--quiet", "--out", "fashion.safetensors")
        with gzip.open(os.path.join(fashion, "t10k-images-idx3-ubyte.gz")) as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:BATCH]
        fx = (images.astype(np.float32) / np.float32(255)).astype(np.float32)
        write_csv("fashion.csv", fx)
        write_csv("fashion-one.csv", fx[:1])
        # CSV text → float32 is what glassbox reads; give ONNX Runtime the same numbers.
        fx = np.loadtxt("fashion.csv", delimiter=",", dtype=np.float32)
        models.append(("fashion-mnist 784 → 64 relu → 10 softmax", "fashion.safetensors"))

    worst = 0.0
    print(f"{'model':<44} {'ORT batch 1000':>15} {'ORT batch 1':>12} {'NumPy (torch)':>14}")
    for label, model in models:
        if model == "fashion.safetensors":
            inputs = (fx, "fashion.csv", "fashion-one.csv", fx[:1].copy())
        else:
            inputs = (x, "batch.csv", "one.csv", x1)
        (d_batch, d_one), ops, meta = check_onnx(binary, work, model, inputs[1], inputs[2], inputs[0], inputs[3])
        d_torch = check_torch(binary, work, model, inputs[1], inputs[0])
        print(f"{label:<44} {d_batch:>15.3g} {d_one:>12.3g} {d_torch:>14.3g}   {' '.join(ops)}")
        worst = max(worst, d_batch, d_one, d_torch)
        if "scale standard" in label or "scale minmax" in label:
            assert ops[:2] == ["Sub", "Mul"], ops
            assert meta["input_scaling"] in ("minmax", "standard"), meta
        if "step" in label:
            assert "GreaterOrEqual" in ops and "Cast" in ops, ops
        if "leaky" in label:
            alpha = [a.f for n in onnx.load(os.path.join(work, "model.onnx")).graph.node
                     if n.op_type == "LeakyRelu" for a in n.attribute if a.name == "alpha"]
            assert alpha and abs(alpha[0] - 0.2) < 1e-7, alpha
        if max(d_batch, d_one, d_torch) > TOLERANCE:
            sys.exit(f"FAIL: {label}: outputs differ by more than {TOLERANCE}")
    print(f"all {len(models)} models agree to {TOLERANCE} (largest difference {worst:.3g})")


if __name__ == "__main__":
    main()
