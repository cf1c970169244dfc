//! int8 models: a trained network with 8-bit weights, for smaller files and faster
//! inference.
//!
//! # The scheme
//!
//! Weights are quantized **per output neuron** (per row of W), symmetrically: row j keeps
//! one f32 scale sⱼ = max|Wⱼ|/127 and the integers qⱼₖ = round(Wⱼₖ/sⱼ) in −127 … 127.
//! Biases stay f32. Activations are quantized **per example at run time** (dynamic
//! quantization, as PyTorch's `quantize_dynamic`): the row x of a layer's input gets
//! sₓ = max|x|/127 and integers pₖ = round(xₖ/sₓ). A layer then computes
//!
//! ```text
//! zⱼ = sₓ·sⱼ · Σₖ pₖ·qⱼₖ + bⱼ       the sum in exact 32-bit integer arithmetic
//! a  = f(z)                          in f32, as in the float network
//! ```
//!
//! # The kernels, and why nothing saturates
//!
//! The integer sum Σₖ pₖ·qⱼₖ is computed by one of three kernels, chosen at run time
//! ([`Kernel::detect`]); all three give the same 32-bit integers, bit for bit (tested on
//! random and extreme inputs):
//!
//! - **AVX-512 VNNI** (`vpdpbusd`): multiplies unsigned bytes by signed bytes and adds
//!   groups of four products straight into 32-bit sums, without an intermediate 16-bit
//!   step, so nothing saturates. Its first operand must be unsigned, so the kernel feeds
//!   it p + 128 (0 … 255) and subtracts 128·Σₖqⱼₖ (kept per neuron) afterwards:
//!   Σ(p+128)·q − 128·Σq = Σp·q, exact in wrapping 32-bit arithmetic.
//! - **AVX2**: `vpmaddubsw` would add two u8×i8 products into a *saturating* 16-bit sum
//!   (255·127·2 > 32 767), so it is not used. Both bytes are widened to 16 bits and
//!   multiplied with `vpmaddwd`, which adds pairs of 16×16-bit products into 32-bit sums:
//!   exact for any bytes.
//! - **Portable**: the same sum in plain Rust, for other CPUs and as the reference.
//!
//! With |pₖ·qⱼₖ| ≤ 127·127 the 32-bit sum cannot overflow for layers of up to 133 000
//! inputs ([`MAX_INPUTS`]).
//!
//! # Threads
//!
//! As for the float network, the thread count is an argument of the call that runs the
//! network ([`QuantizedNetwork::predict_with`], [`evaluate_with`]), never a setting it
//! keeps. A batch of several chunks of rows is shared chunk by chunk (the same loop as
//! [`Network::predict_with`]); a single chunk — one image, or a server's small batch —
//! shares each layer's product instead: one row in bands of neurons, several rows in
//! bands of rows, handed to the helper threads that the float engine uses for one image
//! (they spin between jobs, so the hand-over takes well under a microsecond). The sums
//! are exact integers, so the outputs do not depend on the number of threads.
//!
//! # Files
//!
//! [`save`] writes a safetensors file like [`crate::io::save`]'s, with the same
//! architecture metadata and one more key, `quantization` = [`io::QUANTIZATION`]; per layer:
//!
//! ```text
//! layers.{l}.weight         I8   [out, in]   q
//! layers.{l}.weight_scale   F32  [out]       s, one per neuron: W ≈ s·q
//! layers.{l}.bias           F32  [out]       b
//! ```
//!
//! [`crate::io::load`] refuses such a file with a message that points here.
//!
//! # Examples
//!
//! ```
//! use glassbox::quant::QuantizedNetwork;
//! use glassbox::{Activation, Init, Network};
//! # fn main() -> glassbox::Result<()> {
//! let net = Network::builder(4)
//!     .dense(8, Activation::Relu)
//!     .dense(3, Activation::Softmax)
//!     .build(Init::He, 1)?;
//! let int8 = QuantizedNetwork::from_network(&net)?;
//! let x = [0.5, -1.0, 2.0, 0.25];
//! let (a, b) = (net.predict(&x)?, int8.predict(&x)?);
//! for (a, b) in a.as_slice().iter().zip(b.as_slice()) {
//!     assert!((a - b).abs() < 0.02);
//! }
//! # Ok(()) }
//! ```

use crate::activation::Activation;
use crate::io::{self, Architecture, LayerSpec, ModelInfo};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::metrics::Evaluation;
use crate::network::{argmax, predict_in_chunks, Network};
use crate::tensor::{Parallelism, Tensor};
use crate::{Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// The widest layer input the 32-bit integer sums hold without overflow
/// (127·127·133 000 < 2³¹).
pub const MAX_INPUTS: usize = 133_000;

/// Output neurons per block of the packed weights (one 512-bit register of i32 sums).
const BLOCK: usize = 16;

/// An int8 dot-product kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust, any CPU.
    Portable,
    /// AVX2: bytes widened to 16 bits, `vpmaddwd`.
    Avx2,
    /// AVX-512 VNNI: `vpdpbusd`.
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Kernel {
        [Kernel::Avx512Vnni, Kernel::Avx2]
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Portable)
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernel's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512Vnni => "avx512-vnni",
        }
    }
}

/// A layer's int8 weights in the order the kernels read them: blocks of [`BLOCK`]
/// neurons; in a block, groups of 4 inputs; in a group, each neuron's 4 weights. So 64
/// bytes hold 16 neurons × 4 inputs, one 512-bit register. Inputs are padded to a
/// multiple of 4 and neurons to a multiple of 16, with zero weights.
#[derive(Debug, Clone, PartialEq)]
struct Packed {
    /// Inputs padded to a multiple of 4.
    k: usize,
    /// Neurons padded to a multiple of [`BLOCK`].
    n: usize,
    bytes: Vec<i8>,
    /// Σₖ qⱼₖ per (padded) neuron, for the VNNI kernel's unsigned offset.
    sums: Vec<i32>,
}

impl Packed {
    fn new(q: &[i8], outputs: usize, inputs: usize) -> Packed {
        let (k, n) = (inputs.next_multiple_of(4), outputs.next_multiple_of(BLOCK));
        let mut bytes = vec![0i8; k * n];
        let mut sums = vec![0i32; n];
        for j in 0..outputs {
            for i in 0..inputs {
                let w = q[j * inputs + i];
                bytes[Packed::index(k, j, i)] = w;
                sums[j] += i32::from(w);
            }
        }
        Packed { k, n, bytes, sums }
    }

    /// Where neuron `j`'s weight for input `i` lies.
    fn index(k: usize, j: usize, i: usize) -> usize {
        ((j / BLOCK * (k / 4) + i / 4) * BLOCK + j % BLOCK) * 4 + i % 4
    }

    /// Every block of neurons.
    fn all(&self) -> Blocks<'_> {
        self.blocks(0..self.n / BLOCK)
    }

    /// The blocks in `range`: neurons `range.start·16 …` (a block's bytes are contiguous,
    /// so a run of blocks is a slice of `bytes`).
    fn blocks(&self, range: std::ops::Range<usize>) -> Blocks<'_> {
        let block_bytes = self.k * BLOCK;
        Blocks {
            k: self.k,
            n: range.len() * BLOCK,
            bytes: &self.bytes[range.start * block_bytes..range.end * block_bytes],
            sums: &self.sums[range.start * BLOCK..range.end * BLOCK],
        }
    }
}

/// A run of whole blocks of [`Packed`] weights, as the kernels read them.
#[derive(Debug, Clone, Copy)]
struct Blocks<'a> {
    /// Inputs, padded to a multiple of 4.
    k: usize,
    /// Neurons in these blocks, a multiple of [`BLOCK`].
    n: usize,
    bytes: &'a [i8],
    sums: &'a [i32],
}

/// out ← X·Qᵀ in exact wrapping i32: `x` is `rows × w.k` (row-major, padding zero),
/// `out` is `rows × w.n`.
fn matmul_i8(kernel: Kernel, x: &[i8], rows: usize, w: Blocks<'_>, out: &mut [i32]) {
    assert!(x.len() >= rows * w.k && out.len() >= rows * w.n);
    assert!(w.bytes.len() == w.k * w.n && w.sums.len() == w.n && w.n.is_multiple_of(BLOCK));
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512Vnni if kernel.is_available() => {
            // SAFETY: the CPU has the features; the lengths were checked above.
            unsafe { vnni::matmul(x, rows, w, out) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if kernel.is_available() => {
            // SAFETY: the CPU has AVX2; the lengths were checked above.
            unsafe { avx2::matmul(x, rows, w, out) }
        }
        _ => portable(x, rows, w, out),
    }
}

/// The fewest multiply-adds in one layer's product that are shared among threads: below
/// it, handing the work to a helper costs about as much as the work.
#[cfg_attr(glassbox_loom, allow(dead_code))]
const PARALLEL_MIN_PRODUCTS: usize = 1 << 16;

/// [`matmul_i8`], shared among up to `threads` threads (the caller and the spin pool's
/// helpers, [`crate::spin`]) when the product is large enough; see [`split_matmul_i8`].
#[cfg_attr(glassbox_loom, allow(unused_variables))]
fn shared_matmul_i8(
    kernel: Kernel,
    threads: usize,
    x: &[i8],
    rows: usize,
    w: &Packed,
    out: &mut [i32],
) {
    #[cfg(not(glassbox_loom))]
    if threads > 1 && rows * w.k * w.n >= PARALLEL_MIN_PRODUCTS {
        let pool = crate::spin::global();
        let shares = threads.min(pool.capacity());
        if split_matmul_i8(pool, shares, kernel, x, rows, w, out) {
            return;
        }
    }
    matmul_i8(kernel, x, rows, w.all(), out);
}

/// [`matmul_i8`] in up to `shares` bands on `pool`: one row is split into bands of neuron
/// blocks, several rows into bands of rows (multiples of 4, the VNNI kernel's tile).
/// Each band runs the same kernel on its part, and the integers are exact, so the result
/// is the same for any number of shares. Returns `false`, having done nothing, when the
/// pool is busy (another caller has it) or there is only one band.
#[cfg(not(glassbox_loom))]
fn split_matmul_i8(
    pool: &crate::spin::Pool,
    shares: usize,
    kernel: Kernel,
    x: &[i8],
    rows: usize,
    w: &Packed,
    out: &mut [i32],
) -> bool {
    use std::sync::Mutex;
    let (blocks, shares) = (w.n / BLOCK, shares.max(1));
    let out = &mut out[..rows * w.n];
    // Each band's part of `out`, to be written by the one share that has the band.
    let (per, parts): (usize, Vec<Mutex<&mut [i32]>>) = if rows == 1 {
        let per = blocks.div_ceil(shares);
        (per, out.chunks_mut(per * BLOCK).map(Mutex::new).collect())
    } else {
        let per = rows.div_ceil(shares).next_multiple_of(4);
        (per, out.chunks_mut(per * w.n).map(Mutex::new).collect())
    };
    let band = |t: usize| {
        // Share t alone locks part t, so the lock is never contended; it is poisoned only
        // if this band panicked, and then `pool.run` re-raises the panic.
        let Some(Ok(mut part)) = parts.get(t).map(Mutex::lock) else {
            return;
        };
        let start = t * per;
        if rows == 1 {
            let end = (start + per).min(blocks);
            matmul_i8(kernel, x, 1, w.blocks(start..end), &mut part);
        } else {
            let end = (start + per).min(rows);
            let x = &x[start * w.k..end * w.k];
            matmul_i8(kernel, x, end - start, w.all(), &mut part);
        }
    };
    parts.len() > 1 && pool.run(parts.len(), &band)
}

/// The reference kernel: one product at a time.
fn portable(x: &[i8], rows: usize, w: Blocks<'_>, out: &mut [i32]) {
    for r in 0..rows {
        let xr = &x[r * w.k..(r + 1) * w.k];
        for j in 0..w.n {
            let mut sum = 0i32;
            for (i, &p) in xr.iter().enumerate() {
                let q = w.bytes[Packed::index(w.k, j, i)];
                sum = sum.wrapping_add(i32::from(p) * i32::from(q));
            }
            out[r * w.n + j] = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{Blocks, BLOCK};
    use std::arch::x86_64::*;

    /// Rows in a tile: each 4-byte group of weights loaded is used for this many rows.
    const ROWS: usize = 4;
    /// Blocks of 16 neurons in a tile.
    const BLOCKS: usize = 4;
    /// The sign bit of each of four bytes: p ⊕ 0x80 = p + 128 as an unsigned byte.
    const SIGN_BITS: i32 = 0x8080_8080u32 as i32;

    /// # Safety
    /// The CPU has the features; `x` holds `rows × w.k` bytes, `out` `rows × w.n`
    /// values, and `w`'s lengths agree (as `matmul_i8` asserts).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn matmul(x: &[i8], rows: usize, w: Blocks<'_>, out: &mut [i32]) {
        let blocks = w.n / BLOCK;
        let mut r = 0;
        while r < rows {
            let four_rows = rows - r >= ROWS;
            let mut b = 0;
            while b < blocks {
                // Monomorphised tiles keep every sum in a register: 4 rows × 4 blocks,
                // or for one row 8 blocks (8 independent sums hide vpdpbusd's latency).
                // SAFETY: R rows from r (r + R ≤ rows) and T blocks from b (b + T ≤
                // blocks), as each arm's guard says; the caller's lengths.
                let step = unsafe {
                    match (four_rows, blocks - b) {
                        (true, n) if n >= BLOCKS => tile::<ROWS, BLOCKS>(x, r, w, b, out),
                        (false, n) if n >= 2 * BLOCKS => tile::<1, { 2 * BLOCKS }>(x, r, w, b, out),
                        (false, n) if n >= BLOCKS => tile::<1, BLOCKS>(x, r, w, b, out),
                        (true, _) => tile::<ROWS, 1>(x, r, w, b, out),
                        (false, _) => tile::<1, 1>(x, r, w, b, out),
                    }
                };
                b += step;
            }
            r += if four_rows { ROWS } else { 1 };
        }
    }

    /// R rows from `r`, T blocks of neurons from block `b`; returns T.
    ///
    /// # Safety
    /// As for [`matmul`], and rows `r..r + R` and blocks `b..b + T` exist.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile<const R: usize, const T: usize>(
        x: &[i8],
        r: usize,
        w: Blocks<'_>,
        b: usize,
        out: &mut [i32],
    ) -> usize {
        let groups = w.k / 4;
        // SAFETY: row r of x and block b of the weights exist (the caller's word).
        let (xp, wp) = unsafe {
            (
                x.as_ptr().add(r * w.k),
                w.bytes.as_ptr().add(b * groups * 64),
            )
        };
        let mut acc = [[_mm512_setzero_si512(); T]; R];
        for g in 0..groups {
            let mut wv = [_mm512_setzero_si512(); T];
            for (t, v) in wv.iter_mut().enumerate() {
                // SAFETY: group g < k/4 of block b + t < b + T: 64 bytes inside w.bytes.
                *v = unsafe { _mm512_loadu_si512(wp.add((t * groups + g) * 64) as *const _) };
            }
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: bytes 4g..4g + 4 ≤ k of row r + i < r + R of x.
                let four = unsafe { (xp.add(i * w.k + 4 * g) as *const i32).read_unaligned() };
                // p + 128 as unsigned bytes: flipping the sign bit adds 128. The flip is
                // done on the scalar, before the broadcast. Written as a 512-bit xor of
                // the broadcast, LLVM 22 turns it into a byte shuffle of a partly
                // undefined xor, and with AVX-512 VBMI (target-cpu=native on Zen 4, Ice
                // Lake and later) the x86 code generator's SelectionDAG legalization of
                // it does not finish: the crate did not build (bench/RESULTS.md).
                let xv = _mm512_set1_epi32(four ^ SIGN_BITS);
                for (t, sum) in row.iter_mut().enumerate() {
                    *sum = _mm512_dpbusd_epi32(*sum, xv, wv[t]);
                }
            }
        }
        for t in 0..T {
            let j = (b + t) * BLOCK;
            // SAFETY: neurons j..j + 16 (BLOCK) of block b + t, inside w.sums (n long).
            let sums = unsafe { _mm512_loadu_si512(w.sums.as_ptr().add(j) as *const _) };
            let offset = _mm512_slli_epi32(sums, 7);
            for (i, row) in acc.iter().enumerate() {
                // SAFETY: row r + i of out, its neurons j..j + 16 < n.
                unsafe {
                    let o = out.as_mut_ptr().add((r + i) * w.n + j);
                    _mm512_storeu_si512(o as *mut _, _mm512_sub_epi32(row[t], offset));
                }
            }
        }
        T
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Blocks, BLOCK};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX2; `x` holds `rows × w.k` bytes and `w`'s lengths agree (as
    /// `matmul_i8` asserts).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn matmul(x: &[i8], rows: usize, w: Blocks<'_>, out: &mut [i32]) {
        let groups = w.k / 4;
        for r in 0..rows {
            // SAFETY: row r < rows of x (the caller's word).
            let xp = unsafe { x.as_ptr().add(r * w.k) };
            for b in 0..w.n / BLOCK {
                // SAFETY: block b < n / 16 of the weights, 64 bytes per group.
                let wp = unsafe { w.bytes.as_ptr().add(b * groups * 64) };
                // sums[h]: neurons 4h … 4h+3, two partial sums each.
                let mut sums = [_mm256_setzero_si256(); 4];
                for g in 0..groups {
                    // SAFETY: bytes 4g..4g + 4 ≤ k of row r of x.
                    let four = unsafe { (xp.add(4 * g) as *const i32).read_unaligned() };
                    // p₀ p₁ p₂ p₃ as 16-bit, repeated for four neurons.
                    let xv = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(four)));
                    for (h, sum) in sums.iter_mut().enumerate() {
                        // SAFETY: 16 of group g's 64 bytes of block b, inside w.bytes.
                        let q = unsafe { _mm_loadu_si128(wp.add(g * 64 + 16 * h) as *const _) };
                        let products = _mm256_madd_epi16(_mm256_cvtepi8_epi16(q), xv);
                        *sum = _mm256_add_epi32(*sum, products);
                    }
                }
                for (h, sum) in sums.iter().enumerate() {
                    let mut lanes = [0i32; 8];
                    // SAFETY: `lanes` is 8 i32s, one 256-bit register.
                    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut _, *sum) };
                    for n in 0..4 {
                        out[r * w.n + b * BLOCK + 4 * h + n] =
                            lanes[2 * n].wrapping_add(lanes[2 * n + 1]);
                    }
                }
            }
        }
    }
}

/// One dense layer with int8 weights.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedDense {
    inputs: usize,
    outputs: usize,
    /// q, `out × in` row-major, as stored in the file.
    weights: Vec<i8>,
    /// s per neuron.
    scales: Vec<f32>,
    biases: Vec<f32>,
    activation: Activation,
    packed: Packed,
}

impl QuantizedDense {
    /// Quantizes `layer`: per neuron j, sⱼ = max|Wⱼ|/127 and qⱼₖ = round(Wⱼₖ/sⱼ).
    pub fn from_dense(layer: &Dense) -> QuantizedDense {
        let (outputs, inputs) = (layer.outputs(), layer.inputs());
        let mut weights = vec![0i8; outputs * inputs];
        let mut scales = vec![0f32; outputs];
        for j in 0..outputs {
            let row = layer.weights().row(j);
            scales[j] = quantize_row(row, &mut weights[j * inputs..(j + 1) * inputs]);
        }
        QuantizedDense::from_parts(
            inputs,
            weights,
            scales,
            layer.biases().to_vec(),
            layer.activation(),
        )
    }

    fn from_parts(
        inputs: usize,
        weights: Vec<i8>,
        scales: Vec<f32>,
        biases: Vec<f32>,
        activation: Activation,
    ) -> QuantizedDense {
        let outputs = biases.len();
        let packed = Packed::new(&weights, outputs, inputs);
        QuantizedDense {
            inputs,
            outputs,
            weights,
            scales,
            biases,
            activation,
            packed,
        }
    }

    /// The number of inputs.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of neurons.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// q, `out × in` row-major.
    pub fn weights(&self) -> &[i8] {
        &self.weights
    }

    /// The scale s of each neuron's weights.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The biases b (f32).
    pub fn biases(&self) -> &[f32] {
        &self.biases
    }

    /// The activation function f.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The float layer these integers stand for: Wⱼₖ = sⱼ·qⱼₖ.
    pub fn dequantize(&self) -> Result<Dense> {
        let weights: Vec<f32> = self
            .weights
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q) * self.scales[i / self.inputs])
            .collect();
        Dense::from_parts(
            Tensor::from_vec(self.outputs, self.inputs, weights)?,
            self.biases.clone(),
            self.activation,
        )
    }
}

/// Quantizes `x` symmetrically into `q` (which may be longer: the rest is zeroed) and
/// returns the scale s = max|x|/127 (1 when x is all zeros). Rounds half away from zero.
fn quantize_row(x: &[f32], q: &mut [i8]) -> f32 {
    let largest = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if largest == 0.0 || !largest.is_finite() {
        q.fill(0);
        return if largest == 0.0 { 1.0 } else { largest / 127.0 };
    }
    let inverse = 127.0 / largest;
    for (q, &v) in q.iter_mut().zip(x) {
        // |v·127/max| ≤ 127, so the cast never clamps; `as` truncates toward zero.
        let scaled = v * inverse;
        *q = (scaled + 0.5f32.copysign(scaled)) as i32 as i8;
    }
    q[x.len()..].fill(0);
    largest / 127.0
}

/// A network of [`QuantizedDense`] layers.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedNetwork {
    layers: Vec<QuantizedDense>,
    kernel: Kernel,
}

/// Per-thread buffers for one chunk of rows.
#[derive(Default)]
struct Buffers {
    q: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<i32>,
    z: Vec<f32>,
    a: Vec<f32>,
}

impl QuantizedNetwork {
    /// Quantizes every layer of `network`.
    ///
    /// # Errors
    /// [`Error::Shape`] when a layer has more than [`MAX_INPUTS`] inputs.
    pub fn from_network(network: &Network) -> Result<QuantizedNetwork> {
        QuantizedNetwork::from_layers(
            network
                .layers()
                .iter()
                .map(QuantizedDense::from_dense)
                .collect(),
        )
    }

    fn from_layers(layers: Vec<QuantizedDense>) -> Result<QuantizedNetwork> {
        if let Some(l) = layers.iter().position(|l| l.inputs > MAX_INPUTS) {
            return Err(Error::Shape(format!(
                "layer {l} has {} inputs; int8 layers take at most {MAX_INPUTS}",
                layers[l].inputs
            )));
        }
        if layers.is_empty() {
            return Err(Error::Shape("an int8 network needs a layer".into()));
        }
        Ok(QuantizedNetwork {
            layers,
            kernel: Kernel::detect(),
        })
    }

    /// The layers, from the input side.
    pub fn layers(&self) -> &[QuantizedDense] {
        &self.layers
    }

    /// The number of inputs.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// The number of outputs.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// The activation of the output layer.
    pub fn output_activation(&self) -> Activation {
        self.layers[self.layers.len() - 1].activation
    }

    /// Inputs then each layer's neurons, e.g. `[784, 512, 256, 10]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.inputs())
            .chain(self.layers.iter().map(|l| l.outputs))
            .collect()
    }

    /// The kernel in use ([`Kernel::detect`] unless [`QuantizedNetwork::set_kernel`]).
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Uses `kernel`, or the portable one when the CPU cannot run it.
    pub fn set_kernel(&mut self, kernel: Kernel) {
        self.kernel = if kernel.is_available() {
            kernel
        } else {
            Kernel::Portable
        };
    }

    /// The float network these integers stand for (W = s·q), for inspection.
    ///
    /// # Errors
    /// Not expected: the shapes are those of a valid network.
    pub fn dequantize(&self) -> Result<Network> {
        Network::from_layers(
            self.layers
                .iter()
                .map(QuantizedDense::dequantize)
                .collect::<Result<_>>()?,
        )
    }

    /// The outputs for `inputs`, a row-major `rows × self.inputs()` slice, computed on
    /// this thread ([`QuantizedNetwork::predict_with`] to use more).
    ///
    /// # Errors
    /// [`Error::InputWidth`] when the length is not a multiple of the input width.
    pub fn predict(&self, inputs: &[f32]) -> Result<Tensor> {
        self.predict_with(inputs, Parallelism::Sequential)
    }

    /// [`QuantizedNetwork::predict`] with up to `par` threads: chunks of rows when there
    /// are several, otherwise each layer's product (bands of neurons for one row, bands
    /// of rows for a few). The sums are exact integers, so the outputs do not depend on
    /// the thread count.
    ///
    /// # Errors
    /// As [`QuantizedNetwork::predict`].
    pub fn predict_with(&self, inputs: &[f32], par: Parallelism) -> Result<Tensor> {
        let rows = self.check_rows(inputs)?;
        let mut out = Tensor::zeros(rows, self.outputs());
        predict_in_chunks(
            inputs,
            self.inputs(),
            out.as_mut_slice(),
            self.outputs(),
            par,
            Buffers::default,
            |buffers, chunk, out, par| {
                self.forward_chunk(chunk, buffers, thread_count(par));
                out.copy_from_slice(&buffers.a);
            },
        );
        Ok(out)
    }

    /// The predicted class per row.
    ///
    /// # Errors
    /// As [`QuantizedNetwork::predict`].
    pub fn classify(&self, inputs: &[f32]) -> Result<Vec<usize>> {
        let out = self.predict(inputs)?;
        Ok((0..out.rows()).map(|i| argmax(out.row(i))).collect())
    }

    fn check_rows(&self, inputs: &[f32]) -> Result<usize> {
        if !inputs.len().is_multiple_of(self.inputs()) {
            return Err(Error::InputWidth {
                expected: self.inputs(),
                found: inputs.len(),
            });
        }
        Ok(inputs.len() / self.inputs())
    }

    /// Runs a chunk of rows through every layer, sharing each product among `threads`
    /// threads; the last layer's z and a are left in `buffers.z` and `buffers.a`.
    fn forward_chunk(&self, input: &[f32], buffers: &mut Buffers, threads: usize) {
        let rows = input.len() / self.inputs();
        buffers.a.clear();
        buffers.a.extend_from_slice(input);
        for layer in &self.layers {
            let w = &layer.packed;
            // Quantize each row of the layer's input: p = round(x/sₓ).
            buffers.q.resize(rows * w.k, 0);
            buffers.scales.resize(rows, 0.0);
            for (r, x) in buffers.a.chunks_exact(layer.inputs).enumerate() {
                buffers.scales[r] = quantize_row(x, &mut buffers.q[r * w.k..(r + 1) * w.k]);
            }
            buffers.sums.resize(rows * w.n, 0);
            shared_matmul_i8(self.kernel, threads, &buffers.q, rows, w, &mut buffers.sums);
            // z = sₓ·sⱼ·Σ p·q + b, over zipped slices (indexing them kept this loop
            // scalar, with the buffers' pointers loaded again for every neuron).
            buffers.z.resize(rows * layer.outputs, 0.0);
            let rows_of_z = buffers.z.chunks_exact_mut(layer.outputs);
            let rows_of_sums = buffers.sums.chunks_exact(w.n);
            for ((z, sums), &sx) in rows_of_z.zip(rows_of_sums).zip(&buffers.scales) {
                let per_neuron = layer.scales.iter().zip(&layer.biases);
                for ((z, &sum), (&s, &b)) in z.iter_mut().zip(sums).zip(per_neuron) {
                    *z = sum as f32 * (sx * s) + b;
                }
            }
            buffers.a.resize(rows * layer.outputs, 0.0);
            layer
                .activation
                .forward(&buffers.z, &mut buffers.a, layer.outputs);
        }
    }
}

/// The threads `par` allows (1 for sequential), as [`shared_matmul_i8`] counts them.
fn thread_count(par: Parallelism) -> usize {
    match par {
        Parallelism::Sequential => 1,
        Parallelism::Threads(n) => n.max(1),
    }
}

/// Runs `network` over `data` and measures it with `loss`, as [`crate::metrics::evaluate`]
/// does for a float network.
///
/// # Errors
/// [`Error::InputWidth`] or [`Error::Shape`] when the data does not fit the network.
pub fn evaluate(
    network: &QuantizedNetwork,
    data: &crate::data::Dataset,
    loss: Loss,
) -> Result<Evaluation> {
    evaluate_with(network, data, loss, Parallelism::Sequential)
}

/// [`evaluate`] with each layer's product on up to `par` threads (the result does not
/// depend on the count).
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_with(
    network: &QuantizedNetwork,
    data: &crate::data::Dataset,
    loss: Loss,
    par: Parallelism,
) -> Result<Evaluation> {
    let mut buffers = Buffers::default();
    crate::metrics::measure(
        (network.inputs(), network.outputs()),
        data,
        loss,
        |x, z, a| {
            network.forward_chunk(x.as_slice(), &mut buffers, thread_count(par));
            z.clear();
            z.extend_from_slice(&buffers.z);
            a.clear();
            a.extend_from_slice(&buffers.a);
            Ok(())
        },
    )
}

/// The name of layer `l`'s scale tensor.
fn scale_name(l: usize) -> String {
    format!("layers.{l}.weight_scale")
}

/// Whether `bytes`, the whole of a file, are an int8 model: safetensors whose metadata
/// has [`io::QUANTIZATION_KEY`]. False for anything else, readable or not.
pub fn is_quantized_file(bytes: &[u8]) -> bool {
    SafeTensors::read_metadata(bytes)
        .ok()
        .is_some_and(|(_, m)| io::is_quantized(m.metadata()))
}

/// Writes `network` and `info` to `path` (see the module docs), atomically.
///
/// # Errors
/// [`Error::Io`] naming `path` when the file cannot be written; [`Error::Format`] when a
/// scale or bias is not finite.
pub fn save(path: impl AsRef<Path>, network: &QuantizedNetwork, info: &ModelInfo) -> Result<()> {
    let path = path.as_ref();
    let architecture = Architecture {
        inputs: network.inputs(),
        layers: network
            .layers
            .iter()
            .map(|l| LayerSpec {
                units: l.outputs,
                activation: l.activation,
            })
            .collect(),
        info: info.clone(),
    };
    let model = serde_json::to_string(&architecture)
        .map_err(|e| Error::format(path, "metadata", format!("cannot encode the model: {e}")))?;
    let metadata = HashMap::from([
        (io::FORMAT_KEY.to_string(), io::FORMAT.to_string()),
        (
            io::VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (io::MODEL_KEY.to_string(), model),
        (
            io::QUANTIZATION_KEY.to_string(),
            io::QUANTIZATION.to_string(),
        ),
    ]);
    let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in network.layers.iter().enumerate() {
        for (name, values) in [
            (scale_name(l), &layer.scales),
            (io::bias_name(l), &layer.biases),
        ] {
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::format(
                    path,
                    "tensors",
                    format!("{name} holds a NaN or infinite value"),
                ));
            }
        }
        tensors.push((
            io::weight_name(l),
            Dtype::I8,
            vec![layer.outputs, layer.inputs],
            layer.weights.iter().map(|&q| q as u8).collect(),
        ));
        tensors.push((
            scale_name(l),
            Dtype::F32,
            vec![layer.outputs],
            le(&layer.scales),
        ));
        tensors.push((
            io::bias_name(l),
            Dtype::F32,
            vec![layer.outputs],
            le(&layer.biases),
        ));
    }
    let mut views = Vec::with_capacity(tensors.len());
    for (name, dtype, shape, bytes) in &tensors {
        let view = TensorView::new(*dtype, shape.clone(), bytes)
            .map_err(|e| Error::format(path, name.as_str(), format!("{e:?}")))?;
        views.push((name.as_str(), view));
    }
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::format(path, "header", format!("cannot encode safetensors: {e:?}")))?;
    crate::file::write_atomically(path, &bytes)
}

/// Reads a model file that [`save`] wrote.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file when it
/// is not a quantized glassbox model, or a tensor is missing, has another dtype or shape
/// than the architecture says, or a scale or bias is not finite.
pub fn load(path: impl AsRef<Path>) -> Result<(QuantizedNetwork, ModelInfo)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (tensors, metadata) = io::parse(path, &bytes)?;
    if !io::is_quantized(&metadata) {
        return Err(Error::format(
            path,
            "metadata",
            "not an int8 model (no `quantization` metadata): load it with io::load, or make \
             one with `glassbox quantize`",
        ));
    }
    let architecture = io::architecture(path, &metadata)?.ok_or_else(|| {
        Error::format(
            path,
            "metadata",
            "no glassbox architecture (`model` metadata)",
        )
    })?;
    io::check_architecture(path, &architecture)?;
    let mut layers = Vec::new();
    for (l, [out, inputs]) in architecture.weight_shapes().into_iter().enumerate() {
        let weights = read(
            path,
            &tensors,
            &io::weight_name(l),
            Dtype::I8,
            &[out, inputs],
        )?
        .iter()
        .map(|&b| b as i8)
        .collect();
        let floats = |name: String| -> Result<Vec<f32>> {
            let values: Vec<f32> = read(path, &tensors, &name, Dtype::F32, &[out])?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::format(
                    path,
                    "tensors",
                    format!("{name} holds a NaN or infinite value"),
                ));
            }
            Ok(values)
        };
        let scales = floats(scale_name(l))?;
        let biases = floats(io::bias_name(l))?;
        layers.push(QuantizedDense::from_parts(
            inputs,
            weights,
            scales,
            biases,
            architecture.layers[l].activation,
        ));
    }
    let network = QuantizedNetwork::from_layers(layers)
        .map_err(|e| Error::format(path, "model", e.to_string()))?;
    Ok((network, architecture.info))
}

/// The raw bytes of one tensor, checked for dtype and shape.
fn read<'a>(
    path: &Path,
    tensors: &'a SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<&'a [u8]> {
    let view = tensors.tensor(name).map_err(|_| {
        Error::format(
            path,
            "tensors",
            format!("{name} is missing; the architecture needs it with shape {shape:?}"),
        )
    })?;
    if view.dtype() != dtype || view.shape() != shape {
        return Err(Error::format(
            path,
            "tensors",
            format!(
                "{name} is {:?} {:?}; an int8 model needs {dtype:?} {shape:?}",
                view.dtype(),
                view.shape()
            ),
        ));
    }
    Ok(view.data())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::Init;

    fn random_bytes(n: usize, rng: &mut Rng, extreme: bool) -> Vec<i8> {
        (0..n)
            .map(|_| {
                let v = rng.next_u64();
                if extreme {
                    [-128i8, -127, 127][(v % 3) as usize]
                } else {
                    v as u8 as i8
                }
            })
            .collect()
    }

    #[test]
    fn every_kernel_equals_the_portable_one_exactly() {
        let mut rng = Rng::new(11);
        let available: Vec<Kernel> = [Kernel::Avx2, Kernel::Avx512Vnni]
            .into_iter()
            .filter(|k| k.is_available())
            .collect();
        for &(rows, inputs, outputs) in &[
            (1, 1, 1),
            (1, 784, 512),
            (3, 7, 17),
            (4, 64, 64),
            (5, 33, 70),
            (9, 256, 10),
            (17, 100, 65),
        ] {
            for extreme in [false, true] {
                let q = random_bytes(outputs * inputs, &mut rng, extreme);
                let w = Packed::new(&q, outputs, inputs);
                let mut x = random_bytes(rows * w.k, &mut rng, extreme);
                for r in 0..rows {
                    x[r * w.k + inputs..(r + 1) * w.k].fill(0);
                }
                let mut expected = vec![0; rows * w.n];
                portable(&x, rows, w.all(), &mut expected);
                // The portable kernel itself against the plain definition.
                for r in 0..rows {
                    for j in 0..outputs {
                        let direct: i32 = (0..inputs)
                            .map(|i| i32::from(x[r * w.k + i]) * i32::from(q[j * inputs + i]))
                            .sum();
                        assert_eq!(expected[r * w.n + j], direct);
                    }
                }
                for &kernel in &available {
                    let mut got = vec![7; rows * w.n];
                    matmul_i8(kernel, &x, rows, w.all(), &mut got);
                    assert_eq!(got, expected, "{kernel:?} {rows}×{inputs}×{outputs}");
                }
            }
        }
    }

    /// The portable kernel and every kernel this CPU has.
    #[cfg(not(glassbox_loom))]
    fn kernels() -> Vec<Kernel> {
        [Kernel::Portable, Kernel::Avx2, Kernel::Avx512Vnni]
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }

    /// A pool with more helpers than this machine may have cores (4 shares).
    #[cfg(not(glassbox_loom))]
    fn test_pool() -> &'static crate::spin::Pool {
        static POOL: std::sync::OnceLock<crate::spin::Pool> = std::sync::OnceLock::new();
        POOL.get_or_init(|| crate::spin::Pool::new(3))
    }

    #[cfg(not(glassbox_loom))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// On random shapes and bytes, every kernel — whole, or split into bands of
        /// neurons or rows on 2, 3 or 4 threads — gives exactly the portable kernel's
        /// integers, and the portable kernel gives Σₖ pₖ·qⱼₖ.
        #[test]
        fn kernels_and_bands_equal_the_portable_kernel_on_random_shapes(
            rows in 1usize..14,
            inputs in 1usize..260,
            outputs in 1usize..120,
            seed: u64,
            extreme: bool,
        ) {
            let mut rng = Rng::new(seed);
            let q = random_bytes(outputs * inputs, &mut rng, extreme);
            let w = Packed::new(&q, outputs, inputs);
            let mut x = random_bytes(rows * w.k, &mut rng, extreme);
            for r in 0..rows {
                x[r * w.k + inputs..(r + 1) * w.k].fill(0);
            }
            let mut expected = vec![0; rows * w.n];
            portable(&x, rows, w.all(), &mut expected);
            for r in 0..rows {
                for j in 0..outputs {
                    let direct: i32 = (0..inputs)
                        .map(|i| i32::from(x[r * w.k + i]) * i32::from(q[j * inputs + i]))
                        .sum();
                    proptest::prop_assert_eq!(expected[r * w.n + j], direct);
                }
            }
            for kernel in kernels() {
                for shares in 1..=4 {
                    let mut got = vec![7; rows * w.n];
                    let pool = test_pool();
                    if !split_matmul_i8(pool, shares, kernel, &x, rows, &w, &mut got) {
                        // Only one band: nothing was done, the caller runs it whole.
                        let one_band = shares == 1 || rows == 1 && w.n == BLOCK || (2..=4).contains(&rows);
                        proptest::prop_assert!(one_band);
                        matmul_i8(kernel, &x, rows, w.all(), &mut got);
                    }
                    proptest::prop_assert_eq!(&got, &expected, "{:?} on {} shares", kernel, shares);
                }
            }
        }
    }

    #[test]
    fn activations_round_to_the_nearest_step() {
        let mut q = [0i8; 8];
        let s = quantize_row(&[1.0, -1.0, 0.5, 0.0, 0.2], &mut q);
        assert_eq!(s, 1.0 / 127.0);
        assert_eq!(q, [127, -127, 64, 0, 25, 0, 0, 0]);
        let s = quantize_row(&[0.0; 3], &mut q);
        assert_eq!((s, q), (1.0, [0; 8]));
    }

    fn network() -> Network {
        Network::builder(30)
            .dense(40, Activation::Relu)
            .dense(20, Activation::Tanh)
            .dense(5, Activation::Softmax)
            .build(Init::He, 3)
            .unwrap()
    }

    #[test]
    fn int8_outputs_are_close_to_float_and_thread_independent() {
        let net = network();
        let mut int8 = QuantizedNetwork::from_network(&net).unwrap();
        let mut rng = Rng::new(5);
        let x: Vec<f32> = (0..30 * 600)
            .map(|_| (rng.next_u64() % 2000) as f32 / 1000.0 - 1.0)
            .collect();
        let (a, b) = (net.predict(&x).unwrap(), int8.predict(&x).unwrap());
        let worst = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(a, b)| (a - b).abs())
            // A NaN is the largest difference (f32::max would drop it).
            .fold(0.0, |worst: f32, d| {
                if d.is_nan() {
                    f32::INFINITY
                } else {
                    worst.max(d)
                }
            });
        assert!(worst < 0.03, "{worst}");
        assert_eq!(int8.predict_with(&x, Parallelism::Threads(3)).unwrap(), b);
        int8.set_kernel(Kernel::Portable);
        assert_eq!(int8.predict(&x).unwrap(), b);
        assert!(matches!(
            int8.predict(&x[1..]),
            Err(Error::InputWidth { .. })
        ));
    }

    #[test]
    fn save_then_load_gives_the_same_network_and_float_loading_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m8.safetensors");
        let int8 = QuantizedNetwork::from_network(&network()).unwrap();
        let info = ModelInfo {
            class_names: (0..5).map(|k| k.to_string()).collect(),
            ..ModelInfo::default()
        };
        save(&path, &int8, &info).unwrap();
        let (loaded, loaded_info) = load(&path).unwrap();
        assert_eq!(loaded.layers(), int8.layers());
        assert_eq!(loaded_info, info);
        let e = io::load(&path).unwrap_err().to_string();
        assert!(e.contains("int8") && e.contains("quant::load"), "{e}");

        let float = dir.path().join("m.safetensors");
        io::save(&float, &network(), &info).unwrap();
        let e = load(&float).unwrap_err().to_string();
        assert!(e.contains("not an int8 model"), "{e}");
        // A tiny network's file is mostly header; the ¼ is checked on a real one in
        // the CLI's tests/deploy.rs.
        assert!(std::fs::metadata(&path).unwrap().len() < std::fs::metadata(&float).unwrap().len());
    }
}
