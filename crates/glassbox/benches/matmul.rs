//! The GEMM entry point (`matrixmultiply` inside, split across threads by glassbox) on
//! the MLP's shapes, against the `gemm` crate (the other candidate), in GFLOP/s. Run: `cargo bench --bench matmul`.
//!
//! The shapes are every product of one training step of the 784-512-256-10 network at
//! batch 128 (forward z = A·Wᵀ, weight gradient δᵀ·A, input gradient δ·W), plus the
//! article network's one-example products. The bench first measures this machine's fp32
//! multiply-add peak (independent AVX-512 FMAs, one thread per core) and prints it, so
//! the GFLOP/s below can be read against it (bench/RESULTS.md has one machine's peak).

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

/// Multiply-adds per second of one thread running 12 independent chains of 16-lane FMAs
/// (enough to keep both FMA units busy through their latency), in GFLOP/s.
#[cfg(target_arch = "x86_64")]
fn fma_peak_one_thread() -> Option<f64> {
    if !is_x86_feature_detected!("avx512f") {
        return None;
    }
    #[target_feature(enable = "avx512f")]
    fn chains(rounds: u64) -> f32 {
        use std::arch::x86_64::*;
        use std::hint::black_box;
        let (m, add) = (black_box(0.999f32), black_box(0.001f32));
        let (m, add) = (_mm512_set1_ps(m), _mm512_set1_ps(add));
        let mut acc: [__m512; 12] = std::array::from_fn(|i| _mm512_set1_ps(i as f32));
        for _ in 0..rounds / 1000 {
            for _ in 0..1000 {
                for a in &mut acc {
                    *a = _mm512_fmadd_ps(*a, m, add);
                }
            }
            // Opaque to the optimiser: the chains must really run.
            acc = black_box(acc);
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }
    let rounds = 50_000_000;
    // SAFETY: AVX-512F was detected above.
    std::hint::black_box(unsafe { chains(rounds / 10) });
    let started = std::time::Instant::now();
    std::hint::black_box(unsafe { chains(std::hint::black_box(rounds)) });
    let flops = rounds as f64 * 12.0 * 16.0 * 2.0;
    Some(flops / started.elapsed().as_secs_f64() / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak_one_thread() -> Option<f64> {
    None
}

/// Prints the measured peak for one thread and for one thread on each core at once.
fn print_peak() {
    let cores = glassbox::threads::available();
    let Some(one) = fma_peak_one_thread() else {
        eprintln!("fp32 FMA peak: not measured (no AVX-512 on this CPU)");
        return;
    };
    let all: f64 = std::thread::scope(|s| {
        let runs: Vec<_> = (0..cores).map(|_| s.spawn(fma_peak_one_thread)).collect();
        runs.into_iter()
            .filter_map(|r| r.join().ok().flatten())
            .sum()
    });
    eprintln!(
        "fp32 FMA peak measured here: {one:.0} GFLOP/s on one core, {all:.0} on {cores} cores"
    );
}

fn bench(c: &mut Criterion) {
    print_peak();
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
