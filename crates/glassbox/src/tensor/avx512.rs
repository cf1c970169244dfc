//! glassbox's own AVX-512 kernels for [`super::gemm`], for the two layouts a training
//! step's products come in. Neither copies (packs) an operand: each reads both where
//! they lie. `matrixmultiply`, used where these do not apply, packs both operands of
//! every product into its own layout first, and in a 784-512-256-10 training step that
//! packing took 18% of the time (perf, figures in bench/RESULTS.md).
//!
//! **Broadcast form** ([`rows_of_b`]), when B's rows are contiguous — the weight
//! gradient ∂W = δᵀ·X, the error sent down δ·W, and a first layer's two products while
//! it trains with its weights stored transposed (z = X·W¹ᵀ, ∂W¹ᵀ = Xᵀ·δ). A tile of C
//! is 8 rows × 32 columns (16 registers of 16 sums); for each inner index p, the 32
//! values of row p of B are loaded once and multiplied by each of the 8 values A[i][p]
//! (broadcast):
//!
//! ```text
//! C[i][j..j+32] += A[i][p] · B[p][j..j+32]        for i in the tile's 8 rows, p = 0..k
//! ```
//!
//! An inner index p where row p of B is zero in the tile's 32 columns, or column p of A
//! in its 8 rows, adds nothing to the tile, and is skipped ([`Live`]): blank pixels in
//! a first layer's weight gradient, ReLU neurons that are off in the error sent down.
//!
//! **Dot form** ([`dots`]), when A's rows and B's columns are contiguous — the forward
//! pass z = X·Wᵀ of the layers above the first and of prediction, where both X's rows
//! and W's rows run along the inner index. A tile is 4 rows of A × 4 columns of B: 16
//! dot products, each kept as 16 partial sums (one register) while 16 values of the
//! 4 + 4 vectors are loaded at a time, then the 16 registers are reduced to one register
//! of 16 totals by a tree of shuffles.
//!
//! **One example** ([`row_times_rows`], [`sgd_step_then_row_times_rows`]): a row x
//! times a matrix with contiguous rows is a weighted sum of its rows, and the rows
//! whose weight x[p] is zero are skipped from a list, the others summed in four chains
//! of registers — one example's error sent down, and online learning's first layer
//! stored transposed, whose SGD step and next weighted sums are one sweep over the rows
//! of the pixels that either image has lit.
//!
//! Every element of C is computed with the same order of additions wherever it lies
//! in its tile and however C is split between threads (a remainder tile computes its
//! missing rows or columns again from the last real one and throws them away), so a
//! product gives the same bits on any number of threads.

use super::{MatMut, MatRef};
use std::arch::x86_64::*;

/// Whether this CPU can run the kernels here (AVX-512 Foundation).
#[inline]
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Rows of a broadcast-form tile.
const BR: usize = 8;
/// Columns of a broadcast-form tile: two registers of 16.
const BC: usize = 32;

/// `c ← (c if read) + s·a·b` for `b` with contiguous rows (`b.cs == 1`), by 8 × 32
/// tiles (see the module's comment).
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); the views must have agreeing shapes
/// (`a` m×k, `b` k×n, `c` m×n) with `b.cs == 1`, and `c` must not overlap `a` or `b`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn rows_of_b(c: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, read: bool, s: f32) {
    debug_assert_eq!(b.cs, 1);
    // SAFETY: `rows_of_b_with` asks what this function's caller vouches for.
    LIVE.with_borrow_mut(|live| unsafe { rows_of_b_with(live, c, a, b, read, s, true) });
}

thread_local! {
    /// [`rows_of_b`]'s lists of live inner indices, kept between calls (no allocation
    /// per step).
    static LIVE: std::cell::RefCell<Live> = std::cell::RefCell::new(Live::default());
}

/// Which inner indices p a broadcast-form product can skip, and the lists of the others.
///
/// A term A[i][p]·B[p][j] adds nothing to a sum when either factor is zero (for finite
/// factors: the sum starts at +0 and so never becomes −0, and adding ±0 to it leaves it
/// unchanged). So a tile skips p when row p of B is zero in its 32 columns, or column p
/// of A is zero in its 8 rows. Both happen in training: B is a batch of images in a
/// first layer's weight gradient (13% of a Fashion-MNIST image's runs of 32 pixels are
/// blank), and A is a δ of ReLU neurons in the error sent down (a neuron that is off for
/// all 8 examples of a tile: about a fifth of a 784-512-256-10 network's second layer).
/// A value is zero here when its bits are: +0.0, which is what a ReLU's derivative and
/// an image's blank pixel give.
#[derive(Default)]
pub(super) struct Live {
    /// Per 16 inner indices, a bit for each that is live in B's current block of columns.
    b_bits: Vec<u16>,
    /// The live rows of B in its current block of columns, when some are skipped.
    b_list: Vec<u32>,
    /// Per tile of A's current block of rows, one list of its live inner indices.
    a_bits: Vec<u16>,
    a_list: Vec<u32>,
    /// Per tile: how many of its inner indices are live in A, when enough are skipped to
    /// be worth a list (None: the tile takes A as dense).
    a_len: Vec<Option<usize>>,
    /// A tile's own list, when both A and B skip some.
    both: Vec<u32>,
}

/// [`rows_of_b`], with `live` for the lists of live inner indices; `skip`: false to
/// compute every term (the tests' reference for the skipping).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn rows_of_b_with(
    live: &mut Live,
    c: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    read: bool,
    s: f32,
    skip: bool,
) {
    let (m, n, k) = (c.rows, c.cols, b.rows);
    let words = k.div_ceil(16);
    // Room for the last 16 indices of a list stored whole.
    let stride = 16 * words + 16;
    let Live {
        b_bits,
        b_list,
        a_bits,
        a_list,
        a_len,
        both,
    } = live;
    grow(b_bits, words, 0);
    grow(b_list, stride, 0);
    grow(both, stride, 0);
    let tiles = ROW_BLOCK.div_ceil(BR);
    grow(a_bits, tiles * words, 0);
    grow(a_list, tiles * stride, 0);
    grow(a_len, tiles, None);
    let mut scan = skip;
    for (i0, i1) in row_blocks(m) {
        // A's live inner indices, tile by tile; a tile keeps a list only when it skips at
        // least one in 16 (fewer are not worth reading a list instead of counting).
        for (g, i) in (i0..i1).step_by(BR).enumerate() {
            let bits = &mut a_bits[g * words..(g + 1) * words];
            a_len[g] = None;
            if skip {
                // SAFETY: rows i..i + BR.min(i1 − i) lie inside a (i1 ≤ m), which has k
                // columns.
                unsafe { a_bits_of(bits, a, i, BR.min(i1 - i), k) };
                let len = compress(
                    &mut a_list[g * stride..(g + 1) * stride],
                    bits.iter().copied(),
                );
                a_len[g] = (16 * (k - len) >= k && len < k).then_some(len);
            }
        }
        let mut j = 0;
        while j < n {
            let width = BC.min(n - j);
            let mask = |from: usize| -> __mmask16 {
                let lanes = width.saturating_sub(from).min(16);
                ((1u32 << lanes) - 1) as __mmask16
            };
            let masks = [mask(0), mask(16)];
            // B's live rows in these columns. Where the first block of columns has no
            // row to skip, B is taken to be dense (weights, or the activations of a
            // hidden layer, where 32 zeros in a row are rare), and the other blocks are
            // not searched.
            let b_len = match scan {
                true => {
                    // SAFETY: the masks select columns j..j + width ≤ n of b, whose
                    // rows are contiguous (the caller's `b.cs == 1`).
                    unsafe { b_bits_of(&mut b_bits[..words], b, j, masks) };
                    let len = compress(b_list, b_bits[..words].iter().copied());
                    (len < k).then_some(len)
                }
                false => None,
            };
            if j == 0 {
                scan = b_len.is_some();
            }
            let mut i = i0;
            while i < i1 {
                let rows = BR.min(i1 - i);
                let g = (i - i0) / BR;
                let live: Option<&[u32]> = match (a_len[g], b_len) {
                    (None, None) => None,
                    (None, Some(len)) => Some(&b_list[..len]),
                    (Some(len), None) => Some(&a_list[g * stride..g * stride + len]),
                    (Some(_), Some(_)) => {
                        let bits = &a_bits[g * words..(g + 1) * words];
                        let pairs = bits.iter().zip(&b_bits[..words]).map(|(x, y)| x & y);
                        let len = compress(both, pairs);
                        Some(&both[..len])
                    }
                };
                // SAFETY: row i < m and column j < n are inside c, row i inside a and
                // column j inside b (the caller's agreeing shapes): the offsets stay in
                // their buffers.
                let (c_at, a_at, b_at) =
                    unsafe { (c.ptr.add(i * c.rs + j), a.ptr.add(i * a.rs), b.ptr.add(j)) };
                let tile = Tile {
                    c: c_at,
                    rsc: c.rs,
                    a: a_at,
                    rsa: a.rs,
                    csa: a.cs,
                    b: b_at,
                    rsb: b.rs,
                    k,
                    live,
                    masks,
                    read,
                    s,
                };
                // SAFETY: the tile's `rows` rows (i + rows ≤ i1 ≤ m) and the masks'
                // `width` columns (j + width ≤ n) lie inside c, a and b; the live
                // indices are < k; c overlaps neither (the caller's word).
                unsafe {
                    match rows {
                        8 => tile.run::<8>(),
                        7 => tile.run::<7>(),
                        6 => tile.run::<6>(),
                        5 => tile.run::<5>(),
                        4 => tile.run::<4>(),
                        3 => tile.run::<3>(),
                        2 => tile.run::<2>(),
                        _ => tile.run::<1>(),
                    }
                }
                i += rows;
            }
            j += width;
        }
    }
}

/// `out ← (out if read) + s·a·b` for one row `a` (1 × k) and `b` with contiguous rows
/// (`b.cs == 1`): a weighted sum of b's rows, skipping every row whose weight a[p] is
/// zero. This is one example through a first layer stored transposed (z = x·W¹ᵀ in
/// online learning, where half of a Fashion-MNIST image's pixels are blank) and one
/// example's error sent down (δ·W).
///
/// ```text
/// out[j..j+64] += a[p] · b[p][j..j+64]        for the p where a[p] ≠ 0
/// ```
///
/// Each 64 columns of out are summed in four chains of registers, which take the live
/// rows by turns, so that one row's multiply-adds need not wait for the last row's.
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); `a` is 1 × k, `b` is k × n with
/// `b.cs == 1`, and `out` is n long and overlaps neither.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn row_times_rows(
    out: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    read: bool,
    s: f32,
) {
    debug_assert!(a.rows == 1 && b.cs == 1 && a.cols == b.rows && out.len() == b.cols);
    let (n, k) = (b.cols, b.rows);
    LIVE.with_borrow_mut(|live| {
        let words = k.div_ceil(16);
        grow(&mut live.a_bits, words, 0);
        grow(&mut live.a_list, 16 * words + 16, 0);
        // SAFETY: a is 1 × k (the caller's word).
        unsafe { a_bits_of(&mut live.a_bits[..words], a, 0, 1, k) };
        let len = compress(&mut live.a_list, live.a_bits[..words].iter().copied());
        let rows = Rows {
            a,
            b,
            live: &live.a_list[..len],
            read,
            s,
        };
        let mut j = 0;
        while j < n {
            let width = 64.min(n - j);
            // SAFETY: `out` has n > j floats, so `at` has n − j ≥ width; columns j..j +
            // width lie in b (n columns), and the live rows are < k, its rows.
            unsafe {
                let at = out.as_mut_ptr().add(j);
                match width.div_ceil(16) {
                    4 => rows.sum::<4>(at, j, width),
                    3 => rows.sum::<3>(at, j, width),
                    2 => rows.sum::<2>(at, j, width),
                    _ => rows.sum::<1>(at, j, width),
                }
            }
            j += width;
        }
    });
}

/// [`row_times_rows`]'s operands and the live rows of b.
struct Rows<'l> {
    a: MatRef<'l>,
    b: MatRef<'l>,
    live: &'l [u32],
    read: bool,
    s: f32,
}

impl Rows<'_> {
    /// Columns `j..j + width` (at most 16·V) of the product, into `out`.
    ///
    /// # Safety
    /// AVX-512F; `out` points at `width` writable floats, and the columns lie inside b.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn sum<const V: usize>(&self, out: *mut f32, j: usize, width: usize) {
        let masks: [__mmask16; V] = std::array::from_fn(|v| {
            let lanes = width.saturating_sub(16 * v).min(16);
            ((1u32 << lanes) - 1) as __mmask16
        });
        let mut acc = [[_mm512_setzero_ps(); V]; 4];
        let add = |acc: &mut [__m512; V], p: u32| {
            let p = p as usize;
            // SAFETY: p is a live row, < k: element p of a (1 × k) and row p of b; the
            // masks select v's lanes of columns j..j + width, inside b.
            unsafe {
                let weight = _mm512_set1_ps(*self.a.ptr.add(p * self.a.cs));
                let row = self.b.ptr.add(p * self.b.rs + j);
                for (v, acc) in acc.iter_mut().enumerate() {
                    let values = _mm512_maskz_loadu_ps(masks[v], row.add(16 * v));
                    *acc = _mm512_fmadd_ps(weight, values, *acc);
                }
            }
        };
        let prefetch = |q: usize| {
            if let Some(&next) = self.live.get(q + AHEAD) {
                // SAFETY: `next` is a live row of b, and columns j and j + width − 1 are
                // in it (a prefetch of any address is harmless; these are in bounds).
                unsafe {
                    let row = self.b.ptr.add(next as usize * self.b.rs + j);
                    _mm_prefetch::<_MM_HINT_T0>(row.cast());
                    _mm_prefetch::<_MM_HINT_T0>(row.add(width - 1).cast());
                }
            }
        };
        let mut quads = self.live.chunks_exact(4);
        for (q, quad) in quads.by_ref().enumerate() {
            for (t, (chain, &p)) in acc.iter_mut().zip(quad).enumerate() {
                prefetch(4 * q + t);
                add(chain, p);
            }
        }
        for (chain, &p) in acc.iter_mut().zip(quads.remainder()) {
            add(chain, p);
        }
        let s = _mm512_set1_ps(self.s);
        for (v, &mask) in masks.iter().enumerate() {
            let sum = _mm512_add_ps(
                _mm512_add_ps(acc[0][v], acc[1][v]),
                _mm512_add_ps(acc[2][v], acc[3][v]),
            );
            // SAFETY: the mask selects lanes 16v.. of `out`'s `width` writable floats.
            unsafe {
                let at = out.add(16 * v);
                let value = if self.read {
                    _mm512_fmadd_ps(sum, s, _mm512_maskz_loadu_ps(mask, at))
                } else {
                    _mm512_mul_ps(sum, s)
                };
                _mm512_mask_storeu_ps(at, mask, value);
            }
        }
    }
}

/// Online learning's first layer, stored transposed (`wt`: in × neurons, rows
/// contiguous): the last example's step and the next example's weighted sums, in one
/// sweep over the rows of the pixels that either image has lit (the union of the two
/// lists of live rows; see `tensor::sgd_step_then_row_times_rows`).
///
/// Each row is loaded once, updated and stored, and, while still in registers, added
/// to z's sums in one of four chains (as in [`row_times_rows`]).
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); `wt` is k × n, `x_prev` and a next
/// input are k long, `delta` and a next z are n long, and none overlap.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn sgd_step_then_row_times_rows(
    wt: MatMut<'_>,
    x_prev: &[f32],
    delta: &[f32],
    learning_rate: f32,
    next: Option<(&[f32], &mut [f32])>,
) {
    let (k, n) = (wt.rows, wt.cols);
    debug_assert!(x_prev.len() == k && delta.len() == n);
    LIVE.with_borrow_mut(|live| {
        let words = k.div_ceil(16);
        grow(&mut live.a_bits, 2 * words, 0);
        grow(&mut live.a_list, 16 * words + 16, 0);
        let (prev_bits, next_bits) = live.a_bits[..2 * words].split_at_mut(words);
        // SAFETY: a 1 × k view of x_prev, checked by `MatRef::new`.
        unsafe { a_bits_of(prev_bits, MatRef::new(x_prev, 1, k), 0, 1, k) };
        let (x, z) = match next {
            Some((x, z)) => {
                // SAFETY: a 1 × k view of x, checked by `MatRef::new`.
                unsafe { a_bits_of(next_bits, MatRef::new(x, 1, k), 0, 1, k) };
                for (p, q) in prev_bits.iter_mut().zip(next_bits.iter()) {
                    *p |= q;
                }
                (Some(x), Some(z))
            }
            None => (None, None),
        };
        let len = compress(&mut live.a_list, prev_bits.iter().copied());
        let sweep = Sweep {
            wt: wt.ptr,
            rs: wt.rs,
            x_prev,
            x,
            live: &live.a_list[..len],
        };
        let mut z = z;
        let mut j = 0;
        while j < n {
            let width = 64.min(n - j);
            // SAFETY: columns j..j + width lie inside Wᵀ (n columns), δ and z (n long,
            // the caller's word); the live rows are < k, Wᵀ's rows.
            unsafe {
                let step = (delta.as_ptr().add(j), -learning_rate);
                let z = z.as_deref_mut().map(|z| z.as_mut_ptr().add(j));
                match width.div_ceil(16) {
                    4 => sweep.run::<4>(j, width, step, z),
                    3 => sweep.run::<3>(j, width, step, z),
                    2 => sweep.run::<2>(j, width, step, z),
                    _ => sweep.run::<1>(j, width, step, z),
                }
            }
            j += width;
        }
    });
}

/// [`sgd_step_then_row_times_rows`]'s operands and the rows it visits.
struct Sweep<'l> {
    wt: *mut f32,
    rs: usize,
    x_prev: &'l [f32],
    x: Option<&'l [f32]>,
    live: &'l [u32],
}

impl Sweep<'_> {
    /// Columns `j..j + width` (at most 16·V): the step −η·δ of `step` (δ's columns and
    /// −η), and z's sums added to `z`.
    ///
    /// # Safety
    /// AVX-512F; the columns lie inside Wᵀ, δ and z.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn run<const V: usize>(
        &self,
        j: usize,
        width: usize,
        (delta, minus_lr): (*const f32, f32),
        z: Option<*mut f32>,
    ) {
        let masks: [__mmask16; V] = std::array::from_fn(|v| {
            let lanes = width.saturating_sub(16 * v).min(16);
            ((1u32 << lanes) - 1) as __mmask16
        });
        // s = −η·δ, one per neuron, as `Dense::sgd_step_then_weighted_sums` defines it.
        let minus_lr = _mm512_set1_ps(minus_lr);
        // SAFETY: the masks select δ's columns j..j + width.
        let step: [__m512; V] = std::array::from_fn(|v| unsafe {
            _mm512_mul_ps(minus_lr, _mm512_maskz_loadu_ps(masks[v], delta.add(16 * v)))
        });
        let mut acc = [[_mm512_setzero_ps(); V]; 4];
        let visit = |acc: &mut [__m512; V], q: usize| {
            if let Some(&ahead) = self.live.get(q + AHEAD) {
                // SAFETY: a live row of Wᵀ, and columns j and j + width − 1 of it.
                unsafe {
                    let row = self.wt.add(ahead as usize * self.rs + j);
                    _mm_prefetch::<_MM_HINT_T0>(row.cast());
                    _mm_prefetch::<_MM_HINT_T0>(row.add(width - 1).cast());
                }
            }
            let p = self.live[q] as usize;
            let prev = _mm512_set1_ps(self.x_prev[p]);
            let x = self.x.map(|x| _mm512_set1_ps(x[p]));
            // SAFETY: p is a live row of Wᵀ (< k), and the masks select its columns
            // j..j + width; nothing else refers to Wᵀ while the sweep runs.
            let row = unsafe { self.wt.add(p * self.rs + j) };
            for (v, acc) in acc.iter_mut().enumerate() {
                // SAFETY: as for `row`, lanes 16v.. of the masked columns.
                let w = unsafe {
                    let at = row.add(16 * v);
                    let w = _mm512_fmadd_ps(prev, step[v], _mm512_maskz_loadu_ps(masks[v], at));
                    _mm512_mask_storeu_ps(at, masks[v], w);
                    w
                };
                if let Some(x) = x {
                    *acc = _mm512_fmadd_ps(x, w, *acc);
                }
            }
        };
        let quads = self.live.len() / 4;
        for q in 0..quads {
            for (t, chain) in acc.iter_mut().enumerate() {
                visit(chain, 4 * q + t);
            }
        }
        for (t, chain) in acc.iter_mut().enumerate().take(self.live.len() % 4) {
            visit(chain, 4 * quads + t);
        }
        if let Some(z) = z {
            for (v, &mask) in masks.iter().enumerate() {
                let sum = _mm512_add_ps(
                    _mm512_add_ps(acc[0][v], acc[1][v]),
                    _mm512_add_ps(acc[2][v], acc[3][v]),
                );
                // SAFETY: the mask selects z's columns j + 16v.. (z is n long).
                unsafe {
                    let at = z.add(16 * v);
                    let total = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), sum);
                    _mm512_mask_storeu_ps(at, mask, total);
                }
            }
        }
    }
}

/// How many rows ahead in its list a kernel asks for a row to be brought into the
/// cache: the rows are scattered (blank pixels skipped), so the hardware's prefetcher,
/// which follows runs of addresses, cannot know them.
const AHEAD: usize = 8;

/// Makes `list` at least `len` long. The kernels of one step ask for lists of
/// different lengths; a list that shrank would be filled again each time it grew back
/// (a `memset` per example in online learning).
fn grow<T: Clone>(list: &mut Vec<T>, len: usize, value: T) {
    if list.len() < len {
        list.resize(len, value);
    }
}

/// Bit r of `bits[q]`: whether row 16q + r of `b` has a value other than zero in the
/// columns from `j` that `masks` select (two registers of 16).
///
/// # Safety
/// AVX-512F; the masks' columns from `j` lie inside `b`, and `b.cs == 1`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn b_bits_of(bits: &mut [u16], b: MatRef<'_>, j: usize, masks: [__mmask16; 2]) {
    let k = b.rows;
    for (q, bits) in bits.iter_mut().enumerate() {
        let p = 16 * q;
        let mut live = 0u16;
        for r in 0..16.min(k - p) {
            // SAFETY: row p + r < k of b, and the columns from j that the masks select
            // (the caller's word).
            let v = unsafe {
                let row = b.ptr.add((p + r) * b.rs + j);
                let v0 = _mm512_maskz_loadu_epi32(masks[0], row.cast());
                let v1 = _mm512_maskz_loadu_epi32(masks[1], row.add(16).cast());
                _mm512_or_si512(v0, v1)
            };
            live |= u16::from(_mm512_test_epi32_mask(v, v) != 0) << r;
        }
        *bits = live;
    }
}

/// Bit r of `bits[q]`: whether column 16q + r of `a` has a value other than zero in
/// rows `i..i + rows` (at most 16).
///
/// # Safety
/// AVX-512F; the rows lie inside `a`, which has `k` columns.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn a_bits_of(bits: &mut [u16], a: MatRef<'_>, i: usize, rows: usize, k: usize) {
    for (q, bits) in bits.iter_mut().enumerate() {
        let p = 16 * q;
        let lanes = 16.min(k - p);
        *bits = if a.cs == 1 {
            // Rows contiguous: 16 columns of each row at once.
            let mask = ((1u32 << lanes) - 1) as __mmask16;
            let mut live = 0;
            for r in 0..rows {
                // SAFETY: row i + r of a (the caller's word), columns p..p + lanes ≤ k.
                let v =
                    unsafe { _mm512_maskz_loadu_epi32(mask, a.ptr.add((i + r) * a.rs + p).cast()) };
                live |= _mm512_test_epi32_mask(v, v);
            }
            live
        } else if a.rs == 1 {
            // Columns contiguous (A is a transposed view): a column's rows at once.
            let mask = ((1u32 << rows) - 1) as __mmask16;
            let mut live = 0u16;
            for r in 0..lanes {
                // SAFETY: column p + r < k of a, rows i..i + rows (the caller's word).
                let v =
                    unsafe { _mm512_maskz_loadu_epi32(mask, a.ptr.add((p + r) * a.cs + i).cast()) };
                live |= u16::from(_mm512_test_epi32_mask(v, v) != 0) << r;
            }
            live
        } else {
            let mut live = 0u16;
            for r in 0..lanes {
                // SAFETY: element (i + t, p + r) of a, with i + t < i + rows and
                // p + r < k inside it (the caller's word).
                let column =
                    (0..rows).map(|t| unsafe { *a.ptr.add((i + t) * a.rs + (p + r) * a.cs) });
                live |= u16::from(column.into_iter().any(|x| x.to_bits() != 0)) << r;
            }
            live
        };
    }
}

/// The indices p whose bit is set in `words` (bit r of word q for p = 16q + r), in
/// increasing order, at the start of `list` (16 longer than the indices can be: each
/// word's are stored as a whole register); returns how many.
#[target_feature(enable = "avx512f")]
#[inline]
fn compress(list: &mut [u32], words: impl ExactSizeIterator<Item = u16>) -> usize {
    assert!(list.len() >= 16 * words.len() + 16);
    let step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut len = 0;
    for (q, live) in words.enumerate() {
        let indices = _mm512_add_epi32(_mm512_set1_epi32(16 * q as i32), step);
        // The live indices, moved to the front of one register and stored whole.
        let kept = _mm512_maskz_compress_epi32(live, indices);
        // SAFETY: each word adds at most 16 indices, so len ≤ 16q and the 16 stored
        // from len end by 16q + 16 ≤ 16·words + 16, inside `list` (asserted above).
        unsafe { _mm512_storeu_si512(list.as_mut_ptr().add(len).cast(), kept) };
        len += live.count_ones() as usize;
    }
    len
}

/// Rows of A (and C) taken at a time: a block of A stays in the core's cache (128 rows
/// of 784 floats are 400 KB) while every tile of its rows is computed, instead of all of
/// A streaming from memory once per 4 or 32 columns of C (a 10 000-row product ran at a
/// fifth of the speed).
const ROW_BLOCK: usize = 128;

/// `0..m` in blocks of [`ROW_BLOCK`] rows.
fn row_blocks(m: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..m)
        .step_by(ROW_BLOCK)
        .map(move |i| (i, (i + ROW_BLOCK).min(m)))
}

/// One broadcast-form tile: `R` rows of C from `c`, 32 columns (fewer where the masks
/// say), the inner index running over the live ones (see [`Live`]).
struct Tile<'l> {
    c: *mut f32,
    rsc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    k: usize,
    /// The inner indices to read, when some are skipped (see [`Live`]); all when None.
    live: Option<&'l [u32]>,
    masks: [__mmask16; 2],
    read: bool,
    s: f32,
}

impl Tile<'_> {
    /// Computes the tile.
    ///
    /// # Safety
    /// AVX-512F; `R` rows and the masks' columns of the tile lie inside the views
    /// the pointers come from.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn run<const R: usize>(&self) {
        let full = self.masks == [0xffff, 0xffff];
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        let mut add_row = |p: usize| {
            // SAFETY: p < k is a row of the tile's B and a column of its A; the masks
            // select the tile's columns, and its R rows of A lie inside A (the
            // caller's word).
            let row = unsafe { self.b.add(p * self.rsb) };
            let (b0, b1) = if full {
                // SAFETY: as for `row`: all 32 columns are the tile's.
                unsafe { (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16))) }
            } else {
                // SAFETY: as for `row`.
                unsafe {
                    (
                        _mm512_maskz_loadu_ps(self.masks[0], row),
                        _mm512_maskz_loadu_ps(self.masks[1], row.add(16)),
                    )
                }
            };
            // SAFETY: as for `row`.
            let a = unsafe { self.a.add(p * self.csa) };
            for (i, acc) in acc.iter_mut().enumerate() {
                // SAFETY: row i < R of the tile's A, column p.
                let ai = _mm512_set1_ps(unsafe { *a.add(i * self.rsa) });
                acc[0] = _mm512_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(ai, b1, acc[1]);
            }
        };
        match self.live {
            Some(live) => live.iter().for_each(|&p| add_row(p as usize)),
            None => (0..self.k).for_each(add_row),
        }
        let s = _mm512_set1_ps(self.s);
        for (i, acc) in acc.iter().enumerate() {
            for (h, &sum) in acc.iter().enumerate() {
                // SAFETY: row i < R of the tile's C, and the columns its mask selects;
                // C overlaps neither operand (the caller's word).
                unsafe {
                    let (at, mask) = (self.c.add(i * self.rsc + 16 * h), self.masks[h]);
                    let value = if self.read {
                        _mm512_fmadd_ps(sum, s, _mm512_maskz_loadu_ps(mask, at))
                    } else {
                        _mm512_mul_ps(sum, s)
                    };
                    if mask == 0xffff {
                        _mm512_storeu_ps(at, value);
                    } else {
                        _mm512_mask_storeu_ps(at, mask, value);
                    }
                }
            }
        }
    }
}

/// What [`dots`] adds its products to.
#[derive(Clone, Copy)]
pub(super) enum Base<'a> {
    /// Nothing: C ← s·A·B.
    Zero,
    /// C: C ← C + s·A·B.
    C,
    /// A row added to every row of C: C ← r + s·A·B (a layer's biases, added as the
    /// weighted sums are written instead of copied into C before).
    Row(&'a [f32]),
}

impl Base<'_> {
    /// C, when C is read; nothing otherwise.
    pub(super) fn of(read: bool) -> Self {
        if read {
            Base::C
        } else {
            Base::Zero
        }
    }
}

/// `c ← base + s·a·b` for `a` with contiguous rows (`a.cs == 1`) and `b` with
/// contiguous columns (`b.rs == 1`), by tiles of 4 × 4 dot products (see the module's
/// comment).
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); the views must have agreeing shapes
/// (`a` m×k, `b` k×n, `c` m×n, a row of `base` n long) with `a.cs == 1` and `b.rs == 1`,
/// and `c` must not overlap `a`, `b` or `base`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dots(c: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, base: Base<'_>, s: f32) {
    debug_assert!(a.cs == 1 && b.rs == 1);
    let (m, n, k) = (c.rows, c.cols, a.cols);
    // The last 16 inner values may be fewer: loaded under a mask, zeros elsewhere.
    let tail = k % 16;
    let tail_mask: __mmask16 = if tail == 0 {
        0xffff
    } else {
        ((1u32 << tail) - 1) as __mmask16
    };
    let chunks = k.div_ceil(16);
    // Lane 4r + t takes lane 4t + r (a 4 × 4 transpose of the lanes).
    let to_rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (i0, i1) in row_blocks(m) {
        let mut j = 0;
        while j < n {
            let cols = 4.min(n - j);
            // Columns past the last are computed again from the last one, and dropped.
            // SAFETY: columns j..j + cols of b (n columns, the caller's shapes).
            let bc: [*const f32; 4] =
                std::array::from_fn(|t| unsafe { b.ptr.add((j + t.min(cols - 1)) * b.cs) });
            let mut i = i0;
            while i < i1 {
                let rows = 4.min(i1 - i);
                // SAFETY: rows i..i + rows of a (m rows, the caller's shapes).
                let ar: [*const f32; 4] =
                    std::array::from_fn(|t| unsafe { a.ptr.add((i + t.min(rows - 1)) * a.rs) });
                let mut acc = [[_mm512_setzero_ps(); 4]; 4];
                for q in 0..chunks {
                    let (at, mask) = (16 * q, if q + 1 == chunks { tail_mask } else { 0xffff });
                    // SAFETY: p is a row of a or a column of b, k long and contiguous
                    // (a.cs == b.rs == 1); the mask keeps the load to its k values.
                    let load = |p: *const f32| unsafe {
                        if mask == 0xffff {
                            _mm512_loadu_ps(p.add(at))
                        } else {
                            _mm512_maskz_loadu_ps(mask, p.add(at))
                        }
                    };
                    let av = ar.map(load);
                    let bv = bc.map(load);
                    for r in 0..4 {
                        for t in 0..4 {
                            acc[r][t] = _mm512_fmadd_ps(av[r], bv[t], acc[r][t]);
                        }
                    }
                }
                // Lane 4t + r of the reduction is the dot product of row r with column
                // t; one permutation puts it in lane 4r + t, so that each 128-bit block
                // is a row of the tile's C, written (or added to C) with one store.
                let sums = _mm512_permutexvar_ps(to_rows, reduce16(acc));
                let sums = _mm512_mul_ps(sums, _mm512_set1_ps(s));
                let blocks = [
                    _mm512_castps512_ps128(sums),
                    _mm512_extractf32x4_ps::<1>(sums),
                    _mm512_extractf32x4_ps::<2>(sums),
                    _mm512_extractf32x4_ps::<3>(sums),
                ];
                for (r, &v) in blocks.iter().enumerate().take(rows) {
                    // SAFETY: row i + r < m and columns j..j + cols of c; a base row is
                    // n long (the caller's shapes), and c overlaps no operand.
                    unsafe {
                        let out = c.ptr.add((i + r) * c.rs + j);
                        // Where the base of these elements lies, if anywhere.
                        let from = match base {
                            Base::Zero => None,
                            Base::C => Some(out.cast_const()),
                            Base::Row(row) => Some(row.as_ptr().add(j)),
                        };
                        if cols == 4 {
                            let v = match from {
                                Some(from) => _mm_add_ps(_mm_loadu_ps(from), v),
                                None => v,
                            };
                            _mm_storeu_ps(out, v);
                        } else {
                            let mut lanes = [0.0f32; 4];
                            _mm_storeu_ps(lanes.as_mut_ptr(), v);
                            for (t, &v) in lanes.iter().enumerate().take(cols) {
                                *out.add(t) = match from {
                                    Some(from) => *from.add(t) + v,
                                    None => v,
                                };
                            }
                        }
                    }
                }
                i += rows;
            }
            j += cols;
        }
    }
}

/// The 16 totals of 16 registers of partial sums, `acc[r][t]`'s total in lane 4t + r:
/// four levels of shuffles and additions, each halving the number of registers (and
/// adding lane l to lane l + 8, then + 4, + 2, + 1 of every register alike, so every
/// total is summed in the same order).
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce16(acc: [[__m512; 4]; 4]) -> __m512 {
    // v[q] = acc[q / 4][q % 4]
    let v: [__m512; 16] = std::array::from_fn(|q| acc[q / 4][q % 4]);
    // Level 1: the 128-bit blocks [a0 a1 b0 b1] + [a2 a3 b2 b3]: lanes 0..8 hold a's
    // eight sums of lanes l and l + 8, lanes 8..16 hold b's.
    let w: [__m512; 8] = std::array::from_fn(|x| {
        let (a, b) = (v[2 * x], v[2 * x + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(a, b),
            _mm512_shuffle_f32x4::<0xEE>(a, b),
        )
    });
    // Level 2: [a0 a2 b0 b2] + [a1 a3 b1 b3]: block m of x[y] now holds four sums of
    // v[4y + m].
    let x: [__m512; 4] = std::array::from_fn(|y| {
        let (a, b) = (w[2 * y], w[2 * y + 1]);
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(a, b),
            _mm512_shuffle_f32x4::<0xDD>(a, b),
        )
    });
    // Level 3, inside each block: [a0 b0 a1 b1] + [a2 b2 a3 b3]: block m of y[z] holds
    // two sums each of v[8z + m] (lanes 0, 2) and v[8z + 4 + m] (lanes 1, 3).
    let y: [__m512; 2] = std::array::from_fn(|z| {
        let (a, b) = (x[2 * z], x[2 * z + 1]);
        _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
    });
    // Level 4: [a0 a1 b0 b1] + [a2 a3 b2 b3]: block m holds the totals of v[m], v[4 + m],
    // v[8 + m], v[12 + m], i.e. lane 4m + u holds v[4u + m] = acc[u][m].
    _mm512_add_ps(
        _mm512_shuffle_ps::<0x44>(y[0], y[1]),
        _mm512_shuffle_ps::<0xEE>(y[0], y[1]),
    )
}
