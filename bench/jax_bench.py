"""JAX reference for the glassbox benchmark: jit-compiled, one whole epoch
per call inside lax.scan.

Workloads (--workload):
  modern   784-512-256-10 ReLU, softmax cross-entropy (mean over the batch),
           Adam lr 1e-3 (beta1 0.9, beta2 0.999, eps 1e-8, written out by
           hand), batch 128. The shuffled index is padded to a whole number
           of batches and padded rows get weight 0, so the last step of an
           epoch is a true 96-example batch, as in the PyTorch version.
  article  784-30-10 sigmoid/sigmoid, 0.5 * sum of squared errors, SGD
           lr 0.1, batch 1 (one update per example) — scan over 60 000 steps.
  infer    the modern network under jit: 10 000 test images in one batch
           (median ms) and one image per call (median microseconds).

Threads: XLA_FLAGS is set from --threads before jax is imported
(--xla_cpu_multi_thread_eigen, intra_op_parallelism_threads); the runner
also pins the process to --threads CPUs with taskset.

Output: same JSON lines as torch_bench.py, with "tool":"jax". The first
epoch includes compilation; the runner reports epochs after the first.
"""
import argparse
import json
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=["article", "modern", "infer"], required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=None, help="default 0.1 (article) / 1e-3 (modern)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batch-runs", type=int, default=20)
    p.add_argument("--single-runs", type=int, default=1000)
    return p.parse_args()


ARGS = parse()
# Must happen before jax is imported.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + f" --xla_cpu_multi_thread_eigen={'true' if ARGS.threads > 1 else 'false'}"
    + f" intra_op_parallelism_threads={ARGS.threads}"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402


def emit(obj):
    print(json.dumps(obj), flush=True)


def init_mlp(key, sizes):
    """PyTorch's default nn.Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for weights and biases."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(fan_in)
        w = jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound)
        b = jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)
        params.append((w, b))
    return params


def relu_forward(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def sigmoid_forward(params, x):
    for w, b in params:
        x = jax.nn.sigmoid(x @ w + b)
    return x


def accuracy(forward, params, x, y):
    pred = jnp.argmax(forward(params, x), axis=1)
    return round(float(jnp.mean(pred == y)), 4)


def run_modern(args, xtr, ytr, xte, yte):
    lr = args.lr if args.lr else 1e-3
    b1, b2, eps = 0.9, 0.999, 1e-8
    bs = args.batch_size
    n = xtr.shape[0]
    nb = -(-n // bs)
    pad = nb * bs - n

    def loss_fn(params, x, y, w):
        logits = relu_forward(params, x)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]
        return jnp.sum(nll * w) / jnp.sum(w)

    grad_fn = jax.value_and_grad(loss_fn)

    def step(carry, batch):
        params, m, v, t = carry
        idx, w = batch
        loss, g = grad_fn(params, xtr[idx], ytr[idx], w)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        c1 = 1 - b1 ** t
        c2 = 1 - b2 ** t
        params = jax.tree_util.tree_map(
            lambda p_, m_, v_: p_ - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), params, m, v)
        return (params, m, v, t), loss * jnp.sum(w)

    @jax.jit
    def epoch(carry, key):
        perm = jax.random.permutation(key, n)
        idx = jnp.concatenate([perm, jnp.zeros((pad,), perm.dtype)]).reshape(nb, bs)
        w = jnp.concatenate([jnp.ones((n,), jnp.float32), jnp.zeros((pad,), jnp.float32)]).reshape(nb, bs)
        carry, losses = lax.scan(step, carry, (idx, w))
        return carry, jnp.sum(losses) / n

    key = jax.random.PRNGKey(args.seed)
    key, k0 = jax.random.split(key)
    params = init_mlp(k0, [784, 512, 256, 10])
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    carry = (params, zeros, zeros, jnp.zeros((), jnp.float32))
    eval_fn = jax.jit(relu_forward)
    return train_loop(args, epoch, carry, key, lambda c: accuracy(eval_fn, c[0], xte, yte), n)


def run_article(args, xtr, ytr, xte, yte):
    lr = args.lr if args.lr else 0.1
    n = xtr.shape[0]
    onehot = jax.nn.one_hot(ytr, 10, dtype=jnp.float32)

    def loss_fn(params, x, t):
        return 0.5 * jnp.sum((sigmoid_forward(params, x) - t) ** 2)

    grad_fn = jax.value_and_grad(loss_fn)

    def step(params, i):
        loss, g = grad_fn(params, xtr[i][None, :], onehot[i][None, :])
        params = jax.tree_util.tree_map(lambda p_, g_: p_ - lr * g_, params, g)
        return params, loss

    @jax.jit
    def epoch(params, key):
        perm = jax.random.permutation(key, n)
        params, losses = lax.scan(step, params, perm)
        return params, jnp.sum(losses) / n

    key = jax.random.PRNGKey(args.seed)
    key, k0 = jax.random.split(key)
    params = init_mlp(k0, [784, 30, 10])
    eval_fn = jax.jit(sigmoid_forward)
    return train_loop(args, epoch, params, key, lambda p: accuracy(eval_fn, p, xte, yte), n)


def train_loop(args, epoch, carry, key, acc_fn, n):
    secs = []
    acc = None
    for e in range(1, args.epochs + 1):
        key, k = jax.random.split(key)
        t0 = time.perf_counter()
        carry, loss = epoch(carry, k)
        loss = float(jax.block_until_ready(loss))
        secs.append(time.perf_counter() - t0)
        acc = acc_fn(carry)
        emit({"epoch": e, "seconds": secs[-1], "test_accuracy": acc, "train_loss": loss})
    return secs, acc, n


def run_infer(args, xte):
    params = init_mlp(jax.random.PRNGKey(args.seed), [784, 512, 256, 10])
    f = jax.jit(relu_forward)
    for _ in range(3):
        f(params, xte).block_until_ready()
    times = []
    for _ in range(args.batch_runs):
        t0 = time.perf_counter()
        f(params, xte).block_until_ready()
        times.append(time.perf_counter() - t0)
    batch_ms = float(np.median(times)) * 1e3
    singles = [xte[i:i + 1] for i in range(args.single_runs)]
    for x in singles[:100]:
        f(params, x).block_until_ready()
    times = []
    for x in singles:
        t0 = time.perf_counter()
        f(params, x).block_until_ready()
        times.append(time.perf_counter() - t0)
    single_us = float(np.median(times)) * 1e6
    return batch_ms, single_us


def main():
    args = ARGS
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = fmnist.load(args.data)
    xtr, xte = jnp.asarray(xtr), jnp.asarray(xte)
    ytr, yte = jnp.asarray(ytr.astype(np.int32)), jnp.asarray(yte.astype(np.int32))
    load_s = time.perf_counter() - t0
    summary = {"tool": "jax", "version": jax.__version__, "workload": args.workload,
               "threads": args.threads, "load_seconds": load_s,
               "xla_flags": os.environ["XLA_FLAGS"]}
    if args.workload == "infer":
        batch_ms, single_us = run_infer(args, xte)
        summary.update({"batch_ms": batch_ms, "single_us": single_us})
    else:
        fn = run_article if args.workload == "article" else run_modern
        secs, acc, n = fn(args, xtr, ytr, xte, yte)
        summary.update({"epochs": args.epochs, "train_examples": n, "seconds": sum(secs),
                        "seconds_per_epoch": secs, "test_accuracy": acc})
        summary.update(fmnist.summarize(secs))
    summary["peak_rss_kb"] = fmnist.peak_rss_kb()
    emit(summary)


if __name__ == "__main__":
    main()
