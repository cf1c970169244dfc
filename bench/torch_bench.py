"""PyTorch reference for the glassbox benchmark, written the plain way a user
would write it (eager mode, no compilation, no DataLoader).

Workloads (--workload):
  article  784-30-10, sigmoid hidden + sigmoid output, loss 0.5 * sum of
           squared errors per example, plain SGD lr 0.1, batch 1 (one update
           per example), shuffled each epoch.
  modern   784-512-256-10 ReLU, CrossEntropyLoss, Adam lr 1e-3, batch 128,
           a Python loop over a shuffled index into preloaded tensors
           (last batch of an epoch is the 96 left-over examples).
  infer    the modern network under torch.no_grad(): the 10 000 test images
           in one batch (median of --batch-runs runs, ms) and one image at a
           time (median of --single-runs calls, microseconds). Weights are
           the default initialisation: timings of dense layers do not depend
           on the values.

Output: JSON lines; per-epoch lines {"epoch","seconds","test_accuracy",
"train_loss"} and a final summary line with "tool":"torch".
"seconds" is training time only (shuffle + forward/backward/update over all
training examples); loading and test evaluation are not timed.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def emit(obj):
    print(json.dumps(obj), flush=True)


def accuracy(model, x, y):
    with torch.no_grad():
        return round((model(x).argmax(dim=1) == y).float().mean().item(), 4)


def run_article(args, data):
    xtr, ytr, xte, yte = data
    ytr_onehot = nn.functional.one_hot(ytr, 10).float()
    model = nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=args.lr if args.lr else 0.1)
    n = xtr.shape[0]
    secs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in perm.tolist():
            x = xtr[i:i + 1]
            t = ytr_onehot[i:i + 1]
            out = model(x)
            loss = 0.5 * ((out - t) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        secs.append(time.perf_counter() - t0)
        acc = accuracy(model, xte, yte)
        emit({"epoch": epoch, "seconds": secs[-1], "test_accuracy": acc, "train_loss": total / n})
    return secs, acc, n


def modern_model():
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 256), nn.ReLU(),
        nn.Linear(256, 10),
    )


def run_modern(args, data):
    xtr, ytr, xte, yte = data
    model = modern_model()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr if args.lr else 1e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    bs = args.batch_size
    secs = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for start in range(0, n, bs):
            idx = perm[start:start + bs]
            x = xtr[idx]
            y = ytr[idx]
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        secs.append(time.perf_counter() - t0)
        model.eval()
        acc = accuracy(model, xte, yte)
        emit({"epoch": epoch, "seconds": secs[-1], "test_accuracy": acc, "train_loss": total / n})
    return secs, acc, n


def run_infer(args, data):
    _, _, xte, _ = data
    model = modern_model().eval()
    with torch.no_grad():
        for _ in range(3):  # warm-up
            model(xte)
        times = []
        for _ in range(args.batch_runs):
            t0 = time.perf_counter()
            model(xte)
            times.append(time.perf_counter() - t0)
        batch_ms = float(np.median(times)) * 1e3
        singles = [xte[i:i + 1] for i in range(args.single_runs)]
        for x in singles[:100]:
            model(x)
        times = []
        for x in singles:
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
        single_us = float(np.median(times)) * 1e6
    return batch_ms, single_us


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=["article", "modern", "infer"], required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=fmnist.DEFAULT_DIR)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=None, help="default 0.1 (article) / 1e-3 (modern)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batch-runs", type=int, default=20)
    p.add_argument("--single-runs", type=int, default=1000)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = fmnist.load(args.data)
    data = tuple(torch.from_numpy(a) for a in (xtr, ytr, xte, yte))
    load_s = time.perf_counter() - t0

    summary = {"tool": "torch", "version": torch.__version__, "workload": args.workload,
               "threads": args.threads, "load_seconds": load_s}
    if args.workload == "infer":
        batch_ms, single_us = run_infer(args, data)
        summary.update({"batch_ms": batch_ms, "single_us": single_us})
    else:
        fn = run_article if args.workload == "article" else run_modern
        secs, acc, n = fn(args, data)
        summary.update({"epochs": args.epochs, "train_examples": n, "seconds": sum(secs),
                        "seconds_per_epoch": secs, "test_accuracy": acc})
        summary.update(fmnist.summarize(secs))
    summary["peak_rss_kb"] = fmnist.peak_rss_kb()
    emit(summary)


if __name__ == "__main__":
    main()
