"""glassbox's MLPClassifier against scikit-learn's, side by side, on Fashion-MNIST.

    python bench/sklearn_bench.py [--epochs 10] [--float64] [--cli target/release/glassbox]

Run it with the Python package installed (`pip install ./bindings/python`) and
scikit-learn. The workload: 784-512-256-10, ReLU, Adam (η = 0.001), batches of 128, the
same number of epochs for both (no early stop: tol=0, n_iter_no_change > epochs), float32
pixels / 255 — as `glassbox train --data fashion-mnist --layers 512,256 --batch-size
128`. It prints:

- fit time (and s/epoch) and test accuracy of both, and the ratio of fit times (with
  `--float64`, also scikit-learn on float64 data, which it then computes in);
- glassbox's s/epoch from Python against the CLI's (`glassbox train … --json`, its
  training seconds per epoch), the same engine called two ways;
- `predict_proba` on 10 000 rows, best of 5, both;
- peak RSS of a fit, each in a fresh process, against the data's size plus the CLI's
  peak RSS for the same run (glassbox reads float32 C-contiguous data without a copy).

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment before NumPy
loads (the script restarts itself without them), so NumPy runs its current kernels.
"""

import argparse
import gzip
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    if name in os.environ:
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

import numpy as np  # noqa: E402

FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")
REPO = pathlib.Path(__file__).resolve().parents[1]


def idx(path):
    """An IDX file's array (gzip'd or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist():
    X = idx(FASHION / "train-images-idx3-ubyte.gz").reshape(60000, 784)
    y = idx(FASHION / "train-labels-idx1-ubyte.gz")
    Xt = idx(FASHION / "t10k-images-idx3-ubyte.gz").reshape(10000, 784)
    yt = idx(FASHION / "t10k-labels-idx1-ubyte.gz")
    def scale(a):  # in place, so that loading peaks at the float data plus its bytes
        a = np.ascontiguousarray(a, dtype=np.float32)
        a /= np.float32(255)
        return a
    return scale(X), y.astype(np.int64), scale(Xt), yt.astype(np.int64)


def estimator(kind, epochs):
    params = dict(hidden_layer_sizes=(512, 256), solver="adam", learning_rate_init=1e-3,
                  batch_size=128, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
                  alpha=0.0, random_state=0)
    if kind == "glassbox":
        import glassbox
        return glassbox.MLPClassifier(**params)
    from sklearn.neural_network import MLPClassifier
    return MLPClassifier(**params)


def peak_rss_child(kind, epochs):
    """Peak RSS (bytes) of a fresh process that loads the training data and fits once,
    and its RSS just before the fit (the data loaded, the libraries imported)."""
    code = (
        "import sys, resource, warnings; sys.path.insert(0, %r); warnings.simplefilter('ignore');"
        "import sklearn_bench as b; est = b.estimator(%r, %d); X, y, _, _ = b.fashion_mnist();"
        "import gc; gc.collect();"
        "rss = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize();"
        "open('/proc/self/clear_refs', 'w').write('5');"  # resets the peak to the RSS now
        "est.fit(X, y);"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0];"
        "print(rss, int(hwm.split()[1]) * 1024)"
    ) % (str(pathlib.Path(__file__).parent), kind, epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, peak = out.stdout.strip().splitlines()[-1].split()
    return int(before), int(peak)


def cli_run(cli, epochs):
    """The CLI's training seconds per epoch and its peak RSS for the same workload (run
    before any other child process, so that RUSAGE_CHILDREN's peak is the CLI's)."""
    out = subprocess.run(
        [cli, "train", "--data", "fashion-mnist", "--layers", "512,256", "--batch-size", "128",
         "--epochs", str(epochs), "--optimizer", "adam", "--lr", "0.001", "--test-split", "0",
         "--json", "--out", "/tmp/sklearn_bench_cli.safetensors"],
        capture_output=True, text=True, check=True,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return report, peak * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cli", default=str(REPO / "target" / "release" / "glassbox"))
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--float64", action="store_true",
                        help="also fit scikit-learn on float64 data (its dtype by default)")
    args = parser.parse_args()
    import warnings
    warnings.simplefilter("ignore")
    import sklearn
    import glassbox

    X, y, Xt, yt = fashion_mnist()
    print(f"Fashion-MNIST {X.shape[0]} + {Xt.shape[0]} images, 784-512-256-10, Adam, batch 128, "
          f"{args.epochs} epochs; glassbox {glassbox.__version__} on {glassbox.available_threads()} "
          f"threads, scikit-learn {sklearn.__version__}, NumPy {np.__version__}")
    report, cli_rss = cli_run(args.cli, args.epochs)
    results = {}
    runs = [("glassbox", X, Xt), ("scikit-learn", X, Xt)]
    if args.float64:
        # scikit-learn computes in the input's dtype; float64 is what most data arrives in.
        runs.append(("scikit-learn", X.astype(np.float64), Xt.astype(np.float64)))
    for kind, Xf, Xtf in runs:
        label = f"{kind} ({Xf.dtype})"
        est = estimator(kind, args.epochs)
        start = time.perf_counter()
        est.fit(Xf, y)
        seconds = time.perf_counter() - start
        accuracy = est.score(Xtf, yt)
        best = min(_timed(lambda: est.predict_proba(Xtf)) for _ in range(5))
        results[label] = (seconds, accuracy, best)
        print(f"{label:22s} fit {seconds:7.2f} s ({seconds / est.n_iter_:.3f} s/epoch, "
              f"{est.n_iter_} epochs)  test accuracy {accuracy:.4f}  "
              f"predict_proba(10 000 rows) {best * 1e3:.1f} ms")
    g_fit, g_acc, g_pred = results["glassbox (float32)"]
    for label, (s_fit, s_acc, s_pred) in results.items():
        if label.startswith("scikit-learn"):
            print(f"against {label}: fit time ratio {s_fit / g_fit:.2f}x, accuracy "
                  f"difference {100 * (g_acc - s_acc):+.2f} points, predict_proba time "
                  f"ratio {s_pred / g_pred:.2f}x (above 1: glassbox is faster)")

    cli_seconds = _cli_seconds_per_epoch(report)
    print(f"CLI {cli_seconds:.3f} s/epoch of training work; Python fit {g_fit / args.epochs:.3f} "
          f"s/epoch (Python / CLI = {g_fit / args.epochs / cli_seconds:.3f})")
    if args.skip_rss:
        return
    data = X.nbytes + y.nbytes
    mib = lambda b: f"{b / 2**20:.0f} MiB"
    for kind in ("glassbox", "scikit-learn"):
        before, peak = peak_rss_child(kind, 1)
        print(f"{kind:13s} 1-epoch fit in a fresh process: RSS {mib(before)} with the data "
              f"loaded, peak {mib(peak)} (+{mib(peak - before)} for the fit)")
    print(f"training data {mib(data)} (float32) + the CLI's peak {mib(cli_rss)} = "
          f"{mib(data + cli_rss)}")


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def _cli_seconds_per_epoch(report):
    """Training seconds per epoch from `glassbox train --json`."""
    seconds = report["seconds_per_epoch"]
    return sum(seconds) / len(seconds)


if __name__ == "__main__":
    main()
