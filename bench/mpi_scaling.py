#!/usr/bin/env python3
"""Time per step of data-parallel training on N machines, on paper (bench/RESULTS.md).

    step(N) = compute(B / N examples) + ring allreduce(P parameters)
    compute = B / N × c            c: measured seconds per example on one core
    ring    = 2(N−1)/N × 4P bytes / bandwidth + 2(N−1) × latency

Usage: python3 bench/mpi_scaling.py C_784 [BATCH]   (C_784: s/example of 784-512-256-10
on one core; the 10 M-parameter MLP's is scaled by its parameter count)."""
import sys

c784 = float(sys.argv[1])
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
latency = 10e-6  # one hop of a ring step on Ethernet, seconds
models = {
    "784-512-256-10 (535 818 parameters)": 535_818,
    "10 M-parameter MLP (784-3072-2048-1024-10)": 784 * 3072 + 3072 * 2048 + 2048 * 1024 + 1024 * 10,
}
for name, params in models.items():
    c = c784 * params / 535_818
    print(f"\n{name}: {params} parameters, {4 * params / 1e6:.1f} MB of gradients; "
          f"batch {batch}; ms per step (speed-up against 1 machine)")
    print("| N | compute | allreduce 10 Gbit/s | step 10 Gbit/s | allreduce 100 Gbit/s | step 100 Gbit/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    one = batch * c
    for n in [1, 2, 4, 8, 16, 32, 64]:
        compute = batch / n * c
        cells = [f"{n}", f"{compute * 1e3:.2f}"]
        for gbit in [10, 100]:
            ring = 0.0 if n == 1 else 2 * (n - 1) / n * 4 * params / (gbit * 1e9 / 8) + 2 * (n - 1) * latency
            step = compute + ring
            cells += [f"{ring * 1e3:.2f}", f"{step * 1e3:.2f} ({one / step:.1f}×)"]
        print("| " + " | ".join(cells) + " |")
