//! The GEMM entry point (glassbox's AVX-512 kernels where the CPU has them,
//! `matrixmultiply` elsewhere; split across threads by glassbox) on the MLP's shapes,
//! against the `gemm` crate (another candidate), in GFLOP/s. Run: `cargo bench --bench matmul`.
//!
//! The shapes are every product of one training step of the 784-512-256-10 network at
//! batch 128 (forward z = A·Wᵀ, weight gradient δᵀ·A, input gradient δ·W), plus the
//! article network's one-example products. Read the GFLOP/s against this machine's fp32
//! multiply-add peak: `cargo run --release --example fma_peak`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::rng::Rng;
use glassbox::tensor::{matmul, Accum, Parallelism, Tensor, Transpose};
use std::hint::black_box;

/// (name, m, n, k, op(a) transposed, op(b) transposed)
const SHAPES: &[(&str, usize, usize, usize, Transpose, Transpose)] = &[
    (
        "fwd 128x784->512",
        128,
        512,
        784,
        Transpose::No,
        Transpose::Yes,
    ),
    (
        "fwd 128x512->256",
        128,
        256,
        512,
        Transpose::No,
        Transpose::Yes,
    ),
    (
        "gradW 512x784 (B=128)",
        512,
        784,
        128,
        Transpose::Yes,
        Transpose::No,
    ),
    (
        "gradW 256x512 (B=128)",
        256,
        512,
        128,
        Transpose::Yes,
        Transpose::No,
    ),
    (
        "gradA 128x512 (k=256)",
        128,
        512,
        256,
        Transpose::No,
        Transpose::No,
    ),
    (
        "fwd 10000x784->512",
        10_000,
        512,
        784,
        Transpose::No,
        Transpose::Yes,
    ),
    (
        "article fwd 1x784->30",
        1,
        30,
        784,
        Transpose::No,
        Transpose::Yes,
    ),
    (
        "article gradW 30x784 (B=1)",
        30,
        784,
        1,
        Transpose::Yes,
        Transpose::No,
    ),
];

fn random(rows: usize, cols: usize, rng: &mut Rng) -> Tensor {
    let data = (0..rows * cols).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Tensor::from_vec(rows, cols, data).expect("sizes agree")
}

fn operands(m: usize, n: usize, k: usize, ta: Transpose, tb: Transpose) -> (Tensor, Tensor) {
    let mut rng = Rng::new(1);
    let a = match ta {
        Transpose::No => random(m, k, &mut rng),
        Transpose::Yes => random(k, m, &mut rng),
    };
    let b = match tb {
        Transpose::No => random(k, n, &mut rng),
        Transpose::Yes => random(n, k, &mut rng),
    };
    (a, b)
}

fn strides(t: &Tensor, tr: Transpose) -> (isize, isize) {
    match tr {
        Transpose::No => (t.cols() as isize, 1),
        Transpose::Yes => (1, t.cols() as isize),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.sample_size(20);
    for &(name, m, n, k, ta, tb) in SHAPES {
        let (a, b) = operands(m, n, k, ta, tb);
        let mut out = Tensor::zeros(m, n);
        group.throughput(Throughput::Elements((2 * m * n * k) as u64)); // flops
        for threads in [1, 2] {
            let par = if threads == 1 {
                Parallelism::Sequential
            } else {
                Parallelism::Threads(threads)
            };
            group.bench_with_input(
                BenchmarkId::new(format!("glassbox {threads}t"), name),
                &(),
                |bench, _| {
                    bench.iter(|| {
                        matmul(
                            &mut out,
                            black_box(&a),
                            ta,
                            black_box(&b),
                            tb,
                            Accum::Replace,
                            par,
                        )
                    })
                },
            );
        }
        let (rsa, csa) = strides(&a, ta);
        let (rsb, csb) = strides(&b, tb);
        for threads in [1, 2] {
            let par = if threads == 1 {
                gemm::Parallelism::None
            } else {
                gemm::Parallelism::Rayon(threads)
            };
            group.bench_with_input(
                BenchmarkId::new(format!("gemm-crate {threads}t"), name),
                &(),
                |bench, _| {
                    bench.iter(|| unsafe {
                        // SAFETY: the buffers hold m×k, k×n and m×n values with these
                        // strides. gemm's convention: dst ← alpha·dst + beta·lhs·rhs.
                        gemm::gemm(
                            m,
                            n,
                            k,
                            out.as_mut_slice().as_mut_ptr(),
                            1,
                            n as isize,
                            false,
                            a.as_slice().as_ptr(),
                            csa,
                            rsa,
                            b.as_slice().as_ptr(),
                            csb,
                            rsb,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            par,
                        )
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Figures only: criterion's plotting panics on machines without its fonts.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
