"""PyTorch's peer of crates/glassbox/examples/int8_bench.rs: float32 and dynamic int8
(torch.ao.quantization.quantize_dynamic) inference on the weights of one glassbox model.

    bench/.venv/bin/python bench/torch_int8.py --model M [--data DIR] [--threads N]

M is a float glassbox model file (safetensors: layers.{l}.weight [out, in] and
layers.{l}.bias, PyTorch's layout, and the architecture in the `model` metadata). The
same weights go into an nn.Sequential of nn.Linear layers with the model's activations;
quantize_dynamic turns every nn.Linear into an int8 one (per-tensor weight scales, the
activations quantized per batch at run time). Both run under torch.inference_mode() on
the Fashion-MNIST test set, pixels scaled to [0, 1] as glassbox reads them:

- accuracy on the 10 000 test images;
- the 10 000 images as one batch, median of 20 runs (after 2 warm-up runs);
- one image per call, median of 1 000 calls (after 100 warm-up calls).

Prints a Markdown table like int8_bench's. Needs the bench venv (bench/run.sh makes it).
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np
import torch
from safetensors import safe_open
from torch import nn

import fmnist

BATCH_RUNS = 20
SINGLE_CALLS = 1000
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


def load_sequential(path):
    """The glassbox float model at `path` as an nn.Sequential (softmax as the last module
    when the model's output is softmax, as glassbox's predict returns probabilities)."""
    try:
        return read_sequential(path)
    except (OSError, ValueError, KeyError) as e:
        # A missing or unreadable file, not safetensors, a missing tensor, bad JSON.
        sys.exit(f"{path}: not a readable glassbox float model: {e}")
    except Exception as e:  # safetensors' own error type is not importable by name
        sys.exit(f"{path}: not a readable glassbox float model: {type(e).__name__}: {e}")


def read_sequential(path):
    with safe_open(path, "np") as f:
        meta = f.metadata() or {}
        if "quantization" in meta:
            sys.exit(f"{path}: an int8 glassbox model; give the float model it came from")
        if "model" not in meta:
            sys.exit(f"{path}: no glassbox architecture (`model` metadata)")
        arch = json.loads(meta["model"])
        modules, width = [], arch["inputs"]
        for l, layer in enumerate(arch["layers"]):
            name = layer["activation"]["name"]
            w, b = f.get_tensor(f"layers.{l}.weight"), f.get_tensor(f"layers.{l}.bias")
            if w.shape != (layer["units"], width) or b.shape != (layer["units"],):
                sys.exit(f"{path}: layer {l} has weight {w.shape}, bias {b.shape}; "
                         f"the architecture says ({layer['units']}, {width})")
            linear = nn.Linear(width, layer["units"])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w.astype(np.float32)))
                linear.bias.copy_(torch.from_numpy(b.astype(np.float32)))
            modules.append(linear)
            if name == "softmax":
                modules.append(nn.Softmax(dim=1))
            elif name in ACTIVATIONS:
                modules.append(ACTIVATIONS[name]())
            else:
                sys.exit(f"{path}: layer {l}: activation {name!r} has no PyTorch module here")
            width = layer["units"]
    if arch.get("scaler"):
        sys.exit(f"{path}: the model has a feature scaler; this benchmark feeds raw pixels")
    return nn.Sequential(*modules).eval()


def median_seconds(runs, warm, f):
    times = []
    for i in range(runs + warm):
        t = time.perf_counter()
        f(i)
        times.append(time.perf_counter() - t)
    return float(np.median(times[warm:]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", default=fmnist.DEFAULT_DIR)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    float_model = load_sequential(args.model)
    with warnings.catch_warnings():
        # torch 2.15 points eager-mode quantization users to torchao; the API still works.
        warnings.simplefilter("ignore")
        int8_model = torch.ao.quantization.quantize_dynamic(
            float_model, {nn.Linear}, dtype=torch.qint8)
    _, _, x_test, y_test = fmnist.load(args.data)
    x, y = torch.from_numpy(x_test), torch.from_numpy(y_test)

    rows = []
    with torch.inference_mode():
        for name, model in (("float32", float_model), ("int8 (quantize_dynamic)", int8_model)):
            accuracy = 100.0 * (model(x).argmax(1) == y).double().mean().item()
            batch = median_seconds(BATCH_RUNS, 2, lambda _: model(x))
            single = median_seconds(SINGLE_CALLS, 100, lambda i: model(x[i % len(x)].unsqueeze(0)))
            rows.append((name, accuracy, batch, single))

    print(f"PyTorch {torch.__version__} on {args.threads} thread(s), quantized engine "
          f"{torch.backends.quantized.engine}; {args.model}")
    print()
    print("| model | test accuracy | 10 000 images (ms) | one image (µs) |")
    print("|---|---|---|---|")
    for name, accuracy, batch, single in rows:
        print(f"| {name} | {accuracy:.2f}% | {batch * 1e3:.1f} | {single * 1e6:.1f} |")
    (_, fa, fb, fs), (_, ia, ib, is_) = rows
    print(f"| int8 ÷ float | {ia - fa:+.2f} points | {ib / fb:.2f}× | {is_ / fs:.2f}× |")


if __name__ == "__main__":
    main()
