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
    LIVE.with_borrow_mut(|live| rows_of_b_with(live, c, a, b, read, s, true));
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
    b_bits.resize(words, 0);
    b_list.resize(stride, 0);
    both.resize(stride, 0);
    let tiles = ROW_BLOCK.div_ceil(BR);
    a_bits.resize(tiles * words, 0);
    a_list.resize(tiles * stride, 0);
    a_len.resize(tiles, None);
    let mut scan = skip;
    for (i0, i1) in row_blocks(m) {
        // A's live inner indices, tile by tile; a tile keeps a list only when it skips at
        // least one in 16 (fewer are not worth reading a list instead of counting).
        for (g, i) in (i0..i1).step_by(BR).enumerate() {
            let bits = &mut a_bits[g * words..(g + 1) * words];
            a_len[g] = None;
            if skip {
                a_bits_of(bits, a, i, BR.min(i1 - i), k);
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
                    b_bits_of(b_bits, b, j, masks);
                    let len = compress(b_list, b_bits.iter().copied());
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
                        let pairs = bits.iter().zip(b_bits.iter()).map(|(x, y)| x & y);
                        let len = compress(both, pairs);
                        Some(&both[..len])
                    }
                };
                // SAFETY (for the tile): rows i..i+rows and columns j..j+width are inside
                // c and b; the caller vouches for the rest.
                let tile = Tile {
                    c: c.ptr.add(i * c.rs + j),
                    rsc: c.rs,
                    a: a.ptr.add(i * a.rs),
                    rsa: a.rs,
                    csa: a.cs,
                    b: b.ptr.add(j),
                    rsb: b.rs,
                    k,
                    live,
                    masks,
                    read,
                    s,
                };
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
                i += rows;
            }
            j += width;
        }
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
            let row = b.ptr.add((p + r) * b.rs + j);
            let v0 = _mm512_maskz_loadu_epi32(masks[0], row.cast());
            let v1 = _mm512_maskz_loadu_epi32(masks[1], row.add(16).cast());
            let v = _mm512_or_si512(v0, v1);
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
                let v = _mm512_maskz_loadu_epi32(mask, a.ptr.add((i + r) * a.rs + p).cast());
                live |= _mm512_test_epi32_mask(v, v);
            }
            live
        } else if a.rs == 1 {
            // Columns contiguous (A is a transposed view): a column's rows at once.
            let mask = ((1u32 << rows) - 1) as __mmask16;
            let mut live = 0u16;
            for r in 0..lanes {
                let v = _mm512_maskz_loadu_epi32(mask, a.ptr.add((p + r) * a.cs + i).cast());
                live |= u16::from(_mm512_test_epi32_mask(v, v) != 0) << r;
            }
            live
        } else {
            let mut live = 0u16;
            for r in 0..lanes {
                let column = (0..rows).map(|t| *a.ptr.add((i + t) * a.rs + (p + r) * a.cs));
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
unsafe fn compress(list: &mut [u32], words: impl ExactSizeIterator<Item = u16>) -> usize {
    assert!(list.len() >= 16 * words.len() + 16);
    let step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut len = 0;
    for (q, live) in words.enumerate() {
        let indices = _mm512_add_epi32(_mm512_set1_epi32(16 * q as i32), step);
        // The live indices, moved to the front of one register and stored whole.
        let kept = _mm512_maskz_compress_epi32(live, indices);
        _mm512_storeu_si512(list.as_mut_ptr().add(len).cast(), kept);
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
            let row = self.b.add(p * self.rsb);
            let (b0, b1) = if full {
                (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16)))
            } else {
                (
                    _mm512_maskz_loadu_ps(self.masks[0], row),
                    _mm512_maskz_loadu_ps(self.masks[1], row.add(16)),
                )
            };
            let a = self.a.add(p * self.csa);
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a.add(i * self.rsa));
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
            let out = self.c.add(i * self.rsc);
            for (h, &sum) in acc.iter().enumerate() {
                let (at, mask) = (out.add(16 * h), self.masks[h]);
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
            let bc: [*const f32; 4] =
                std::array::from_fn(|t| b.ptr.add((j + t.min(cols - 1)) * b.cs));
            let mut i = i0;
            while i < i1 {
                let rows = 4.min(i1 - i);
                let ar: [*const f32; 4] =
                    std::array::from_fn(|t| a.ptr.add((i + t.min(rows - 1)) * a.rs));
                let mut acc = [[_mm512_setzero_ps(); 4]; 4];
                for q in 0..chunks {
                    let (at, mask) = (16 * q, if q + 1 == chunks { tail_mask } else { 0xffff });
                    let load = |p: *const f32| {
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
