//! This machine's fp32 multiply-add peak, measured: one thread per core, each running
//! 12 independent chains of vector FMAs (enough to keep every FMA unit busy through
//! its latency), with the widest vectors the CPU has (AVX-512: 16 lanes; AVX2 + FMA:
//! 8). `bench/compare.py` runs it before and after the training runs and reports each
//! tool's GFLOP/s as a fraction of it; `cargo bench --bench matmul` figures read
//! against it too.
//!
//! Run: `cargo run --release --example fma_peak` — prints one JSON line:
//! `{"isa":"avx512","cores":2,"one_core_gflops":117.1,"all_cores_gflops":234.0}`.

use std::hint::black_box;
use std::time::Instant;

/// Rounds of 12 chains; about a second at 100 GFLOP/s with 16 lanes.
const ROUNDS: u64 = 50_000_000;

/// GFLOP/s of one thread, and the instruction set used.
#[cfg(target_arch = "x86_64")]
fn one_thread() -> Option<(f64, &'static str)> {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    fn chains512(rounds: u64) -> f32 {
        let (m, add) = (
            _mm512_set1_ps(black_box(0.999)),
            _mm512_set1_ps(black_box(0.001)),
        );
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

    #[target_feature(enable = "avx2,fma")]
    fn chains256(rounds: u64) -> f32 {
        let (m, add) = (
            _mm256_set1_ps(black_box(0.999)),
            _mm256_set1_ps(black_box(0.001)),
        );
        let mut acc: [__m256; 12] = std::array::from_fn(|i| _mm256_set1_ps(i as f32));
        for _ in 0..rounds / 1000 {
            for _ in 0..1000 {
                for a in &mut acc {
                    *a = _mm256_fmadd_ps(*a, m, add);
                }
            }
            acc = black_box(acc);
        }
        let mut lanes = [0.0f32; 8];
        acc.iter().fold(0.0, |s, &a| {
            // SAFETY: `lanes` holds 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
            s + lanes.iter().sum::<f32>()
        })
    }

    let time = |run: &dyn Fn(u64) -> f32, lanes: f64| {
        black_box(run(ROUNDS / 10)); // warm up: clocks settle, pages are touched
        let started = Instant::now();
        black_box(run(black_box(ROUNDS)));
        ROUNDS as f64 * 12.0 * lanes * 2.0 / started.elapsed().as_secs_f64() / 1e9
    };
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F was detected.
        Some((time(&|r| unsafe { chains512(r) }, 16.0), "avx512"))
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: AVX2 and FMA were detected.
        Some((time(&|r| unsafe { chains256(r) }, 8.0), "avx2+fma"))
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn one_thread() -> Option<(f64, &'static str)> {
    None
}

fn main() {
    let cores = glassbox::threads::available();
    let Some((one, isa)) = one_thread() else {
        println!(
            r#"{{"isa":null,"cores":{cores},"one_core_gflops":null,"all_cores_gflops":null}}"#
        );
        eprintln!("fp32 FMA peak: not measured (needs x86-64 with AVX2 + FMA or AVX-512)");
        return;
    };
    let all: f64 = std::thread::scope(|s| {
        let runs: Vec<_> = (0..cores).map(|_| s.spawn(one_thread)).collect();
        runs.into_iter()
            .filter_map(|r| r.join().ok().flatten())
            .map(|(gflops, _)| gflops)
            .sum()
    });
    println!(
        r#"{{"isa":"{isa}","cores":{cores},"one_core_gflops":{one:.1},"all_cores_gflops":{all:.1}}}"#
    );
    eprintln!("fp32 FMA peak ({isa}): {one:.1} GFLOP/s on one core, {all:.1} on {cores} cores");
}
