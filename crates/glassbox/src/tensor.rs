//! The matrix type and the one place that multiplies matrices.
//!
//! A [`Tensor`] is a row-major `rows × cols` matrix of f32. Activations are
//! `batch × features` (one example per row); weights are `out × in` (PyTorch's layout).
//!
//! Every matrix product in glassbox goes through [`matmul`]:
//!
//! ```text
//! C ← op(A) · op(B)          (Accum::Replace)
//! C ← C + op(A) · op(B)      (Accum::Add)
//! op(X) = X or Xᵀ            (Transpose::No / Transpose::Yes)
//! ```
//!
//! A transpose costs nothing: it only swaps the strides handed to the kernel.
//!
//! ```
//! use glassbox::tensor::{matmul, Accum, Parallelism, Tensor, Transpose};
//! let a = Tensor::from_vec(1, 2, vec![1.0, 2.0]).unwrap();      // 1 × 2
//! let w = Tensor::from_vec(2, 2, vec![0.5, 0.5, 1.0, -1.0]).unwrap(); // 2 × 2, out × in
//! let mut z = Tensor::zeros(1, 2);
//! matmul(&mut z, &a, Transpose::No, &w, Transpose::Yes, Accum::Replace, Parallelism::Sequential); // z = a·Wᵀ
//! assert_eq!(z.as_slice(), &[1.5, -1.0]);
//! ```

use crate::{spin, Error, Result};
use std::marker::PhantomData;

#[cfg(target_arch = "x86_64")]
mod avx512;
use std::ops::Range;

/// A row-major matrix of f32: `rows × cols`, its values starting on a 64-byte cache
/// line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tensor {
    rows: usize,
    cols: usize,
    data: Aligned,
}

/// 16 floats on a cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A buffer of f32 that starts on a cache line, so that where a row of weights starts
/// relative to a cache line depends only on its index, never on where the allocator
/// put the buffer: the one-row kernel ([`dot4`]) chooses its load pattern, and so the
/// order of its additions, by that offset, and the same weights must give the same
/// sums in every run (a resumed run ends bit for bit where an uninterrupted one does).
#[derive(Clone, Default)]
struct Aligned {
    lines: Vec<Line>,
    len: usize,
}

impl Aligned {
    fn zeros(len: usize) -> Self {
        Aligned {
            lines: vec![Line::default(); len.div_ceil(16)],
            len,
        }
    }

    fn from_slice(values: &[f32]) -> Self {
        let mut a = Aligned::zeros(values.len());
        a.as_mut_slice().copy_from_slice(values);
        a
    }

    /// Makes the buffer `len` long, keeping the values it has (new ones are 0).
    fn resize(&mut self, len: usize) {
        if len > self.len {
            let old = self.len;
            self.lines.resize(len.div_ceil(16), Line::default());
            self.len = len;
            self.as_mut_slice()[old..].fill(0.0);
        } else {
            self.len = len;
        }
    }

    fn as_slice(&self) -> &[f32] {
        // SAFETY: `lines` holds at least `len` floats (16 per line), contiguous: a
        // `Line` is `repr(C)` over `[f32; 16]`, so an array of lines is an array of floats.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, borrowed exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

impl PartialEq for Aligned {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for Aligned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl std::ops::Deref for Aligned {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for Aligned {
    fn deref_mut(&mut self) -> &mut [f32] {
        self.as_mut_slice()
    }
}

/// How many values a `rows × cols` matrix holds, `rows · cols`, or `None` when that
/// does not fit in a `usize` (no buffer could hold it, and a wrapped product would let
/// a view address values outside its buffer).
pub fn checked_len(rows: usize, cols: usize) -> Option<usize> {
    rows.checked_mul(cols)
}

/// [`checked_len`] for sizes a programmer passed in.
///
/// # Panics
/// If `rows · cols` overflows a `usize`, naming the shape.
fn len_of(rows: usize, cols: usize) -> usize {
    checked_len(rows, cols)
        .unwrap_or_else(|| panic!("a {rows} × {cols} matrix has more values than a usize counts"))
}

impl Tensor {
    /// A `rows × cols` matrix of zeros.
    ///
    /// # Panics
    /// If `rows · cols` overflows a `usize` (use [`Tensor::from_vec`] or
    /// [`checked_len`] for sizes read from a file).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Tensor {
            rows,
            cols,
            data: Aligned::zeros(len_of(rows, cols)),
        }
    }

    /// A matrix over `data`, row-major.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data.len() != rows * cols`, or `rows · cols` overflows.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        let Some(len) = checked_len(rows, cols) else {
            return Err(Error::Shape(format!(
                "a {rows} × {cols} matrix has more values than a usize counts"
            )));
        };
        if data.len() != len {
            return Err(Error::Shape(format!(
                "a {rows} × {cols} matrix needs {len} values, got {}",
                data.len()
            )));
        }
        Ok(Tensor {
            rows,
            cols,
            data: Aligned::from_slice(&data),
        })
    }

    /// Rows (examples, or output neurons for a weight matrix).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (features, or inputs for a weight matrix).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, to write.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, to write.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let cols = self.cols;
        &mut self.data[i * cols..(i + 1) * cols]
    }

    /// Makes this a `rows × cols` matrix, reusing its allocation when it is big enough.
    /// The values are unspecified afterwards (callers overwrite them).
    ///
    /// # Panics
    /// If `rows · cols` overflows a `usize`.
    pub fn resize(&mut self, rows: usize, cols: usize) {
        let len = len_of(rows, cols);
        self.rows = rows;
        self.cols = cols;
        self.data.resize(len);
    }

    /// Consumes the matrix and returns its values, row-major.
    pub fn into_vec(self) -> Vec<f32> {
        self.data.to_vec()
    }
}

/// A read-only view of a `rows × cols` matrix whose element (i, j) lies `i·rs + j·cs`
/// values from its start: a whole [`Tensor`] ([`Tensor::view`]), a band of its rows or
/// columns ([`MatRef::row_band`], [`MatRef::col_band`]), or its transpose ([`MatRef::t`],
/// which only swaps the strides). Every element a view addresses lies in the buffer it
/// borrows: the constructors check it.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    ptr: *const f32,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    life: PhantomData<&'a [f32]>,
}

// SAFETY: a `MatRef` is a shared borrow of f32s, like `&[f32]`.
unsafe impl Send for MatRef<'_> {}
// SAFETY: as for `Send`: `&[f32]` is `Sync`.
unsafe impl Sync for MatRef<'_> {}

/// A view of a `rows × cols` matrix to write, with contiguous rows `rs` values apart:
/// a whole [`Tensor`] ([`Tensor::view_mut`]) or a band of its rows or columns. It
/// borrows its elements exclusively, like `&mut [f32]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: usize,
    life: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `MatMut` is an exclusive borrow of f32s, like `&mut [f32]`.
unsafe impl Send for MatMut<'_> {}
// SAFETY: as for `Send`: `&mut [f32]` is `Sync` (a shared `&MatMut` only reads).
unsafe impl Sync for MatMut<'_> {}

impl<'a> MatRef<'a> {
    /// The row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows × cols` values, or `rows · cols` overflows.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= len_of(rows, cols),
            "{rows} × {cols} view of {} values",
            data.len()
        );
        MatRef {
            ptr: data.as_ptr(),
            rows,
            cols,
            rs: cols,
            cs: 1,
            life: PhantomData,
        }
    }

    /// A view of `rows × cols` values at `ptr` with strides `rs` and `cs`.
    ///
    /// # Safety
    /// Every element the shape and strides address must lie in one live allocation, and
    /// no thread may write those elements while the view (or one derived from it) lives.
    pub(crate) unsafe fn from_raw(
        ptr: *const f32,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Self {
        MatRef {
            ptr,
            rows,
            cols,
            rs,
            cs,
            life: PhantomData,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The transpose: the same values, rows and columns swapped.
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Rows `r` only.
    ///
    /// # Panics
    /// If `r` reaches past the last row.
    pub fn row_band(self, r: Range<usize>) -> Self {
        assert!(
            r.start <= r.end && r.end <= self.rows,
            "rows {r:?} of {}",
            self.rows
        );
        MatRef {
            ptr: self.ptr.wrapping_add(r.start * self.rs),
            rows: r.len(),
            ..self
        }
    }

    /// Columns `c` only.
    ///
    /// # Panics
    /// If `c` reaches past the last column.
    pub fn col_band(self, c: Range<usize>) -> Self {
        assert!(
            c.start <= c.end && c.end <= self.cols,
            "columns {c:?} of {}",
            self.cols
        );
        MatRef {
            ptr: self.ptr.wrapping_add(c.start * self.cs),
            cols: c.len(),
            ..self
        }
    }

    /// Element (i, j).
    ///
    /// # Panics
    /// If (i, j) is outside the matrix.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) of {} × {}",
            self.rows,
            self.cols
        );
        // SAFETY: (i, j) is inside the matrix, whose every element lies in the buffer.
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) }
    }

    /// Row i, when rows are contiguous (column stride 1).
    ///
    /// # Panics
    /// If `i` is not a row, or the view is a transpose whose rows are not contiguous.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        assert!(
            self.cs == 1 || self.cols <= 1,
            "the rows of this view are strided"
        );
        // SAFETY: row i's `cols` values are contiguous and inside the buffer.
        unsafe { std::slice::from_raw_parts(self.ptr.wrapping_add(i * self.rs), self.cols) }
    }
}

impl<'a> MatMut<'a> {
    /// The row-major `rows × cols` matrix at the start of `data`, to write.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows × cols` values, or `rows · cols` overflows.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= len_of(rows, cols),
            "{rows} × {cols} view of {} values",
            data.len()
        );
        MatMut {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            rs: cols,
            life: PhantomData,
        }
    }

    /// A view of `rows × cols` values at `ptr`, rows `rs` apart, to write.
    ///
    /// # Safety
    /// Every element the shape addresses must lie in one live allocation, and no other
    /// thread or view may access those elements while this view (or one derived from
    /// it) lives.
    pub(crate) unsafe fn from_raw(ptr: *mut f32, rows: usize, cols: usize, rs: usize) -> Self {
        MatMut {
            ptr,
            rows,
            cols,
            rs,
            life: PhantomData,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// A shorter-lived view of the same elements, so this one can be used again after.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut {
            life: PhantomData,
            ..*self
        }
    }

    /// The same elements, to read.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: 1,
            life: PhantomData,
        }
    }

    /// Rows `r` only.
    ///
    /// # Panics
    /// If `r` reaches past the last row.
    pub fn row_band(self, r: Range<usize>) -> Self {
        assert!(
            r.start <= r.end && r.end <= self.rows,
            "rows {r:?} of {}",
            self.rows
        );
        MatMut {
            ptr: self.ptr.wrapping_add(r.start * self.rs),
            rows: r.len(),
            ..self
        }
    }

    /// Columns `c` only.
    ///
    /// # Panics
    /// If `c` reaches past the last column.
    pub fn col_band(self, c: Range<usize>) -> Self {
        assert!(
            c.start <= c.end && c.end <= self.cols,
            "columns {c:?} of {}",
            self.cols
        );
        MatMut {
            ptr: self.ptr.wrapping_add(c.start),
            cols: c.len(),
            ..self
        }
    }

    /// The first `r` rows and the rest, two views that do not overlap.
    pub fn split_at_row(self, r: usize) -> (Self, Self) {
        let rows = self.rows;
        let rest = MatMut { ..self };
        (self.row_band(0..r), rest.row_band(r..rows))
    }

    /// The first `c` columns and the rest, two views that do not overlap.
    pub fn split_at_col(self, c: usize) -> (Self, Self) {
        let cols = self.cols;
        let rest = MatMut { ..self };
        (self.col_band(0..c), rest.col_band(c..cols))
    }

    /// Row i.
    ///
    /// # Panics
    /// If `i` is not a row.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        // SAFETY: row i's `cols` values are contiguous, inside the buffer and borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.wrapping_add(i * self.rs), self.cols) }
    }

    /// Row i, to write.
    ///
    /// # Panics
    /// If `i` is not a row.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        // SAFETY: row i's `cols` values are contiguous, inside the buffer and borrowed
        // exclusively by this view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.wrapping_add(i * self.rs), self.cols) }
    }
}

impl Tensor {
    /// The whole matrix as a view.
    pub fn view(&self) -> MatRef<'_> {
        MatRef::new(&self.data, self.rows, self.cols)
    }

    /// The whole matrix as a view to write.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut::new(&mut self.data, self.rows, self.cols)
    }
}

/// Whether [`matmul`] reads an operand as stored or transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transpose {
    /// Use the matrix as stored.
    No,
    /// Use its transpose.
    Yes,
}

/// Whether [`matmul`] overwrites its output or adds to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Accum<'a> {
    /// C ← A·B
    Replace,
    /// C ← C + A·B
    Add,
    /// C ← C + s·A·B (a gradient-descent step on C when s = −η)
    AddScaled(f32),
    /// C ← r + A·B, the row r (n long) added to every row: a layer's weighted sums
    /// z = b + x·Wᵀ. The kernels that can add r as they write C do so; the others copy r
    /// into C's rows first, and add to them.
    AddRow(&'a [f32]),
}

impl Accum<'_> {
    /// (whether C is read, the factor s on A·B), with an `AddRow` written into C first.
    fn parts(self) -> (bool, f32) {
        match self {
            Accum::Replace => (false, 1.0),
            Accum::Add | Accum::AddRow(_) => (true, 1.0),
            Accum::AddScaled(s) => (true, s),
        }
    }
}

/// Copies `row` into every row of `out`, where there is a row to add (see
/// [`Accum::AddRow`]).
fn fill_rows(out: &mut MatMut<'_>, row: Option<&[f32]>) {
    if let Some(row) = row {
        for i in 0..out.rows {
            out.row_mut(i).copy_from_slice(row);
        }
    }
}

/// How many threads a product may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallelism {
    /// On the calling thread only.
    Sequential,
    /// On up to this many threads, for products big enough to pay for them
    /// (see [`PARALLEL_MIN_FLOPS`]).
    Threads(usize),
}

/// Products smaller than this many multiply-adds run on one thread even when more are
/// allowed: waking a second thread costs a few microseconds, which is more than a
/// 784×30 layer takes to compute (the article's network got slower with 2 threads).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 20;

/// Runs `work` with the matrix products inside it allowed to use `threads` threads: a
/// pool of that many threads is started, and `work` runs on one of them, so the
/// products share out their blocks without handing the caller's work to another thread
/// (and waking it) each time. With `threads` ≤ 1, `work` runs here, on this thread.
///
/// # Errors
/// [`Error::Config`] when the operating system refuses to start the threads.
pub fn with_threads<R: Send>(threads: usize, work: impl FnOnce() -> R + Send) -> Result<R> {
    if threads <= 1 {
        return Ok(work());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("glassbox-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {threads} threads: {e}")))?;
    Ok(pool.install(work))
}

/// One-row products (one example through a layer) at least this big are split between
/// cores when more than one thread is allowed, on the spinning helpers of
/// `spin`: they are limited by how fast the weights stream from cache, and each
/// core has its own. 64 Ki multiply-adds = 256 KiB of weights (784×512 and 512×256 are
/// split; the article's 784×30 is not).
pub const PARALLEL_MIN_ROW_FLOPS: usize = 1 << 16;

/// Below this many multiply-adds (or with a single row or column), [`gemm`] uses the
/// simple kernels in this file, which start instantly and stay in cache; above it,
/// the AVX-512 kernels of tensor/avx512.rs where the CPU has them and the layout suits
/// them, `matrixmultiply`'s packed, blocked kernels otherwise, split across threads
/// here. Why these kernels and thresholds: `cargo bench --bench matmul`, figures in
/// bench/RESULTS.md.
pub const SMALL_KERNEL_MAX_FLOPS: usize = 16 * 1024;

/// The one matrix product of glassbox, on [`Tensor`]s: `out ← op(a)·op(b)`,
/// `out ← out + op(a)·op(b)`, `out ← out + s·op(a)·op(b)` or `out ← r + op(a)·op(b)` for a
/// row r added to every row (see [`Accum`]); the same as
/// [`gemm`] on the matrices' views.
///
/// Shapes: op(a) is `m × k`, op(b) is `k × n`, `out` must already be `m × n`.
///
/// # Panics
/// If the shapes do not agree (a programmer error: callers check user input first).
pub fn matmul(
    out: &mut Tensor,
    a: &Tensor,
    ta: Transpose,
    b: &Tensor,
    tb: Transpose,
    accum: Accum,
    parallelism: Parallelism,
) {
    fn op(x: &Tensor, t: Transpose) -> MatRef<'_> {
        match t {
            Transpose::No => x.view(),
            Transpose::Yes => x.view().t(),
        }
    }
    gemm(out.view_mut(), op(a, ta), op(b, tb), accum, parallelism);
}

/// A band of a product: C, A, B and the band of the row to add (see [`Accum::AddRow`]).
type Block<'a> = (MatMut<'a>, MatRef<'a>, MatRef<'a>, Option<&'a [f32]>);

/// The matrix product on views: `out ← a·b`, `out ← out + a·b`, `out ← out + s·a·b` or
/// `out ← r + a·b` (see [`Accum`]).
/// `a` is `m × k`, `b` is `k × n` (either may be a transpose or a band of a bigger
/// matrix), `out` is `m × n`.
///
/// The kernel depends on the shape: one row (one example) or one inner index go through
/// the plain loops below, which need no packing; tiny products through a triple loop;
/// the rest through glassbox's own AVX-512 kernels (tensor/avx512.rs: no packing, for
/// the layouts of a training step's products) or `matrixmultiply`'s packed, blocked
/// kernels (any layout, any x86-64 or other CPU), split between threads
/// when `parallelism` allows and the product is big enough.
///
/// # Panics
/// If the shapes do not agree.
pub fn gemm(
    mut out: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accum: Accum,
    parallelism: Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(
        k, b.rows,
        "gemm: inner dimensions differ ({m}×{k} · {}×{n})",
        b.rows
    );
    assert_eq!(
        (out.rows, out.cols),
        (m, n),
        "gemm: output is {}×{}, product is {m}×{n}",
        out.rows,
        out.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    let (read, scale) = accum.parts();
    let row = match accum {
        Accum::AddRow(row) => {
            assert_eq!(row.len(), n, "gemm: the row to add is not {n} long");
            Some(row)
        }
        _ => None,
    };
    if k == 0 {
        fill_rows(&mut out, row);
        if !read {
            for i in 0..m {
                out.row_mut(i).fill(0.0);
            }
        }
        return;
    }
    let flops = m * n * k;
    // Every kernel but the AVX-512 dot form finds the row to add already in C: here for
    // the plain loops below (the same conditions as theirs), in `block` for the rest.
    if (m == 1 && (b.rs == 1 || b.cs == 1)) || k == 1 || flops <= SMALL_KERNEL_MAX_FLOPS {
        fill_rows(&mut out, row);
    }

    // One example through a layer (z = x·Wᵀ): n dot products with rows of W = bᵀ.
    if m == 1 && b.rs == 1 {
        let gathered: Vec<f32>;
        let x: &[f32] = if a.cs == 1 {
            a.row(0)
        } else {
            gathered = (0..k).map(|p| a.at(0, p)).collect();
            &gathered
        };
        let w = b.t();
        #[cfg_attr(glassbox_loom, allow(unused_variables))]
        let threads = match parallelism {
            Parallelism::Threads(t) if flops >= PARALLEL_MIN_ROW_FLOPS => t,
            _ => 1,
        };
        #[cfg(not(glassbox_loom))]
        if threads > 1 {
            let pool = spin::global();
            let shares = threads.min(n.div_ceil(16)).min(pool.capacity());
            if shares > 1
                && split_row_times_transposed(pool, shares, out.row_mut(0), x, w, read, scale)
            {
                return;
            }
        }
        row_times_transposed(out.row_mut(0), x, w, read, scale);
        return;
    }
    // One example's error sent down (δ·W), or one example through a first layer stored
    // transposed (x·W¹ᵀ): a weighted sum of rows of b.
    if m == 1 && b.cs == 1 {
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            // SAFETY: the CPU has AVX-512F; a is 1 × k, b is k × n with b.cs == 1 and
            // out is n long (checked above); out is borrowed exclusively.
            unsafe { avx512::row_times_rows(out.row_mut(0), a, b, read, scale) };
            return;
        }
        row_times_rows(out.row_mut(0), a, b, read, scale);
        return;
    }
    // One inner index: an outer product (the one-example weight gradient δᵀ·x).
    if k == 1 {
        outer(out, a, b, read, scale);
        return;
    }
    if flops <= SMALL_KERNEL_MAX_FLOPS {
        naive(out, a, b, read, scale);
        return;
    }

    let threads = match parallelism {
        Parallelism::Threads(t) if t > 1 && flops >= PARALLEL_MIN_FLOPS => t,
        _ => 1,
    };
    let beta = if read { 1.0 } else { 0.0 };
    // Split C into `threads` blocks along its longer side, in multiples of 32 so every
    // block keeps whole micro-kernel tiles; each block is an independent product.
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let per = len.div_ceil(threads).next_multiple_of(32).min(len);
    #[cfg(target_arch = "x86_64")]
    let own = avx512::available() && (b.cs == 1 || (a.cs == 1 && b.rs == 1));
    let block = |(mut c, a, b, row): Block<'_>| {
        // The kernels of tensor/avx512.rs for the layouts they read without packing.
        #[cfg(target_arch = "x86_64")]
        if own {
            // SAFETY: `own` says the CPU has AVX-512F and one kernel's layout holds (a
            // band of a view keeps its strides); the shapes agree (checked above, and
            // bands cut a, b, c and the row alike); `c` is an exclusive band of `out`,
            // which does not overlap `a`, `b` or the row.
            unsafe {
                if b.cs == 1 {
                    fill_rows(&mut c, row);
                    avx512::rows_of_b(c, a, b, read, scale);
                } else if let Some(row) = row {
                    avx512::dots(c, a, b, avx512::Base::Row(row), scale);
                } else {
                    avx512::dots(c, a, b, avx512::Base::of(read), scale);
                }
            }
            return;
        }
        fill_rows(&mut c, row);
        // SAFETY: the views guarantee that every element their shapes and strides
        // address lies in a live buffer; `c` is borrowed exclusively (blocks are
        // disjoint bands of `out`) and does not overlap `a` or `b`.
        // matrixmultiply's convention: C ← alpha·A·B + beta·C (beta = 0 never reads C).
        unsafe {
            matrixmultiply::sgemm(
                c.rows,
                a.cols,
                c.cols,
                scale,
                a.ptr,
                a.rs as isize,
                a.cs as isize,
                b.ptr,
                b.rs as isize,
                b.cs as isize,
                beta,
                c.ptr,
                c.rs as isize,
                1,
            );
        }
    };
    if per >= len {
        // One block: no list of blocks to allocate (a training step calls this often).
        block((out, a, b, row));
        return;
    }
    let mut blocks = Vec::with_capacity(len.div_ceil(per));
    let (mut c, mut a, mut b, mut row) = (out, a, b, row);
    loop {
        if (if split_rows { c.rows } else { c.cols }) <= per {
            blocks.push((c, a, b, row));
            break;
        }
        if split_rows {
            let (c0, c1) = c.split_at_row(per);
            blocks.push((c0, a.row_band(0..per), b, row));
            (c, a) = (c1, a.row_band(per..a.rows));
        } else {
            let (c0, c1) = c.split_at_col(per);
            let (r0, r1) = (row.map(|r| &r[..per]), row.map(|r| &r[per..]));
            blocks.push((c0, a, b.col_band(0..per), r0));
            (c, b, row) = (c1, b.col_band(per..b.cols), r1);
        }
    }
    rayon::scope(|scope| {
        let mut blocks = blocks.into_iter();
        let first = blocks.next().expect("at least one block");
        for b in blocks {
            scope.spawn(move |_| block(b));
        }
        block(first);
    });
}

/// [`row_times_transposed`] with the `n` outputs split between `shares` threads of
/// `pool`, in multiples of 16: each core streams its share of W from its own cache (one
/// image through a 784×512 layer reads 1.6 MB), and the spinning helpers take the work
/// in well under a microsecond. `false` (and nothing done) when the pool is busy.
fn split_row_times_transposed(
    pool: &spin::Pool,
    shares: usize,
    out: &mut [f32],
    x: &[f32],
    w: MatRef<'_>,
    read: bool,
    scale: f32,
) -> bool {
    let n = out.len();
    let per = n.div_ceil(shares).next_multiple_of(16);
    let out_ptr = out.as_mut_ptr() as usize;
    let share = |t: usize| {
        let start = t * per;
        if start >= n {
            return;
        }
        let len = per.min(n - start);
        // SAFETY: share t is `out[start..start + len]`, in bounds (start < n, len ≤
        // n − start) and disjoint from every other share's range; `out` is borrowed
        // mutably for this whole function, and `pool.run` returns (or unwinds) only
        // after every share has finished.
        let part = unsafe { std::slice::from_raw_parts_mut((out_ptr as *mut f32).add(start), len) };
        row_times_transposed(part, x, w.row_band(start..start + len), read, scale);
    };
    pool.run(shares, &share)
}

/// out[j] ← (out[j] if read) + s·(x · row j of W): the one-example forward pass
/// z = x·Wᵀ, with W's rows contiguous.
fn row_times_transposed(out: &mut [f32], x: &[f32], w: MatRef<'_>, read: bool, scale: f32) {
    let row = |j: usize| w.row(j);
    // Four neurons at a time share each load of x.
    let done = out.len() / 4 * 4;
    for (q, o) in out.chunks_exact_mut(4).enumerate() {
        let j = 4 * q;
        let d = dot4(x, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
        for (o, d) in o.iter_mut().zip(d) {
            *o = if read { *o + scale * d } else { scale * d };
        }
    }
    for (j, o) in out.iter_mut().enumerate().skip(done) {
        let d = scale * dot(x, row(j));
        *o = if read { *o + d } else { d };
    }
}

/// [`dot`] of `x` with four rows at once, with every 16 values of `x` loaded once for the
/// four rows — a one-example layer streams its weights, and this nearly halves the loads
/// per multiply-add. The same partial sums as `dot` except that they start at a cache
/// line of the weights (the last bits can differ from `dot`'s). Written with AVX-512
/// intrinsics where the CPU has them (the compiler does not keep 16 vector sums in
/// registers on its own); elsewhere, four calls of [`dot`].
#[inline]
fn dot4(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    let n = x.len();
    let rows = rows.map(|r| &r[..n]);
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, and every row is exactly as long as x.
        return unsafe { dot4_avx512(x, rows) };
    }
    rows.map(|r| dot(x, r))
}

/// [`dot4`] with AVX-512.
///
/// # Safety
/// The CPU has AVX-512F, and every row is as long as `x`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)] // acc[row][partial] reads best as indices
unsafe fn dot4_avx512(x: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    const LANES: usize = 16;
    let n = x.len();
    let (xp, wp) = (x.as_ptr(), rows.map(|r| r.as_ptr()));
    // acc[row][partial sum], as in `dot`.
    let mut acc = [[_mm512_setzero_ps(); 4]; 4];

    // Large buffers start 16 bytes past a page boundary (the allocator's header), so a
    // 64-byte load would straddle two cache lines, which costs bandwidth (figures in
    // bench/RESULTS.md). When the four rows share their offset from a line
    // (rows of 784 or 512 floats do), the first few values go in a masked step of their
    // own and every later load is aligned.
    let offset = |p: *const f32| (p as usize % 64) / 4;
    let mut i = 0;
    if wp.iter().all(|&p| offset(p) == offset(wp[0])) && offset(wp[0]) != 0 {
        let head = (LANES - offset(wp[0])).min(n);
        let mk: __mmask16 = ((1u32 << head) - 1) as __mmask16;
        // SAFETY: the mask selects the first head ≤ n values of x and of each row.
        unsafe {
            let xv = _mm512_maskz_loadu_ps(mk, xp);
            for r in 0..4 {
                acc[r][0] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mk, wp[r]), acc[r][0]);
            }
        }
        i = head;
    }
    while i + 4 * LANES <= n {
        for p in 0..4 {
            // SAFETY: values i + p·16.. of x and of each row, before i + 64 ≤ n.
            unsafe {
                let xv = _mm512_loadu_ps(xp.add(i + p * LANES));
                for r in 0..4 {
                    let wv = _mm512_loadu_ps(wp[r].add(i + p * LANES));
                    acc[r][p] = _mm512_fmadd_ps(xv, wv, acc[r][p]);
                }
            }
        }
        i += 4 * LANES;
    }
    while i + LANES <= n {
        // SAFETY: values i..i + 16 ≤ n of x and of each row.
        unsafe {
            let xv = _mm512_loadu_ps(xp.add(i));
            for r in 0..4 {
                acc[r][0] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(wp[r].add(i)), acc[r][0]);
            }
        }
        i += LANES;
    }
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        // `dot`'s reduction, step for step, then the leftover values.
        let mut s = sum_partials_avx512(acc[r]);
        for t in i..n {
            s = x[t].mul_add(rows[r][t], s);
        }
        out[r] = s;
    }
    out
}

/// out ← (out if read) + s·Σ_k a[0][k]·(row k of b): a weighted sum of rows of b
/// (the one-example error sent down, δ·W).
fn row_times_rows(out: &mut [f32], a: MatRef<'_>, b: MatRef<'_>, read: bool, scale: f32) {
    if !read {
        out.fill(0.0);
    }
    for k in 0..a.cols {
        let s = scale * a.at(0, k);
        if s != 0.0 {
            axpy(out, s, b.row(k));
        }
    }
}

/// out[i][j] ← (out[i][j] if read) + s·a[i][0]·b[0][j] (the one-example weight
/// gradient δᵀ·x).
fn outer(mut out: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, read: bool, scale: f32) {
    let gathered: Vec<f32>;
    let brow: &[f32] = if b.cs == 1 {
        b.row(0)
    } else {
        gathered = (0..b.cols).map(|j| b.at(0, j)).collect();
        &gathered
    };
    for i in 0..a.rows {
        let s = scale * a.at(i, 0);
        let orow = out.row_mut(i);
        if !read {
            for (o, &x) in orow.iter_mut().zip(brow) {
                *o = s * x;
            }
        } else if s != 0.0 {
            axpy(orow, s, brow);
        }
    }
}

/// The reference kernel: a triple loop, for small products.
fn naive(mut out: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, read: bool, scale: f32) {
    for i in 0..a.rows {
        let orow = out.row_mut(i);
        for (j, o) in orow.iter_mut().enumerate() {
            let s: f32 = (0..a.cols).map(|p| a.at(i, p) * b.at(p, j)).sum();
            *o = if read { *o + scale * s } else { scale * s };
        }
    }
}

/// Σ x·y with four 16-lane partial sums, so the compiler keeps four vector registers
/// of independent multiply-adds in flight (a single running sum would wait for every
/// addition to finish before the next: 4× slower on a 784-long row).
#[inline]
pub fn dot(x: &[f32], y: &[f32]) -> f32 {
    debug_assert_eq!(x.len(), y.len());
    const LANES: usize = 16;
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [[0.0f32; LANES]; 4];
    let mut i = 0;
    while i + 4 * LANES <= n {
        for (r, acc) in acc.iter_mut().enumerate() {
            let xs: &[f32; LANES] = x[i + r * LANES..i + (r + 1) * LANES]
                .try_into()
                .expect("LANES values");
            let ys: &[f32; LANES] = y[i + r * LANES..i + (r + 1) * LANES]
                .try_into()
                .expect("LANES values");
            for l in 0..LANES {
                acc[l] = xs[l].mul_add(ys[l], acc[l]);
            }
        }
        i += 4 * LANES;
    }
    while i + LANES <= n {
        let xs: &[f32; LANES] = x[i..i + LANES].try_into().expect("LANES values");
        let ys: &[f32; LANES] = y[i..i + LANES].try_into().expect("LANES values");
        for l in 0..LANES {
            acc[0][l] = xs[l].mul_add(ys[l], acc[0][l]);
        }
        i += LANES;
    }
    let mut s = sum_partials(&acc);
    while i < n {
        s = x[i].mul_add(y[i], s);
        i += 1;
    }
    s
}

/// The total of four 16-lane partial sums, in the one order [`dot`] and the four-row
/// kernel share: the partials lane by lane, then the 16 lanes as a
/// tree (8 + 8, 4 + 4, 2 + 2, 1 + 1: four dependent additions instead of sixteen), in
/// registers where the CPU has AVX-512.
#[inline(always)]
fn sum_partials(acc: &[[f32; 16]; 4]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        use std::arch::x86_64::_mm512_loadu_ps;
        // SAFETY: the CPU has AVX-512F; each partial is 16 floats.
        return unsafe { sum_partials_avx512(acc.map(|p| _mm512_loadu_ps(p.as_ptr()))) };
    }
    let mut v = acc[0];
    for part in &acc[1..] {
        for (v, &p) in v.iter_mut().zip(part) {
            *v += p;
        }
    }
    for width in [8, 4, 2, 1] {
        for l in 0..width {
            v[l] += v[l + width];
        }
    }
    v[0]
}

/// [`sum_partials`] in registers, in the same order (so with the same result): the
/// partials lane by lane, then halves added 8 + 8, 4 + 4, 2 + 2, 1 + 1. Through memory
/// this reduction took longer than the four rows' multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_partials_avx512(p: [std::arch::x86_64::__m512; 4]) -> f32 {
    use std::arch::x86_64::*;
    let v = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[1]), p[2]), p[3]);
    let high = _mm512_castpd_ps(_mm512_castpd256_pd512(_mm512_extractf64x4_pd::<1>(
        _mm512_castps_pd(v),
    )));
    let v8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(high));
    let v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps::<1>(v8));
    let v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
    _mm_cvtss_f32(_mm_add_ss(v2, _mm_shuffle_ps::<1>(v2, v2)))
}

/// Online learning's first layer, stored transposed (`wt`: in × neurons): the last
/// example's SGD step and the next example's weighted sums, in one sweep over the rows
/// of Wᵀ (one per input), so each row crosses the memory bus once per example instead
/// of twice:
///
/// ```text
/// Wᵀ[p] ← Wᵀ[p] + x_prev[p]·s        s = −η·δ_prev, one per neuron
/// z     ← z + Σ_p x[p]·Wᵀ[p]          with the updated rows (`next`: x and z)
/// ```
///
/// A row whose inputs x_prev[p] and x[p] are both zero is neither changed nor read
/// (a pixel blank in both images: a third of a Fashion-MNIST pair's), so the sweep
/// skips it. With AVX-512 the other rows come from a list (tensor/avx512.rs);
/// elsewhere each row is tested.
pub(crate) fn sgd_step_then_row_times_rows(
    wt: MatMut<'_>,
    x_prev: &[f32],
    delta: &[f32],
    learning_rate: f32,
    next: Option<(&[f32], &mut [f32])>,
) {
    let (k, n) = (wt.rows, wt.cols);
    assert!(
        x_prev.len() == k && delta.len() == n,
        "sgd_step: shapes differ"
    );
    if let Some((x, z)) = &next {
        assert!(x.len() == k && z.len() == n, "sgd_step: shapes differ");
    }
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: the CPU has AVX-512F; the shapes were checked above, and `wt` and z
        // are borrowed exclusively.
        unsafe { avx512::sgd_step_then_row_times_rows(wt, x_prev, delta, learning_rate, next) };
        return;
    }
    sgd_step_then_row_times_rows_loop(wt, x_prev, delta, learning_rate, next);
}

/// [`sgd_step_then_row_times_rows`] without AVX-512: each row tested, in order.
fn sgd_step_then_row_times_rows_loop(
    mut wt: MatMut<'_>,
    x_prev: &[f32],
    delta: &[f32],
    learning_rate: f32,
    mut next: Option<(&[f32], &mut [f32])>,
) {
    for p in 0..wt.rows {
        let row = wt.row_mut(p);
        if x_prev[p] != 0.0 {
            for (w, &d) in row.iter_mut().zip(delta) {
                *w = x_prev[p].mul_add(-learning_rate * d, *w);
            }
        }
        if let Some((x, z)) = next.as_mut() {
            if x[p] != 0.0 {
                axpy(z, x[p], row);
            }
        }
    }
}

/// y ← y + s·x.
#[inline]
pub fn axpy(y: &mut [f32], s: f32, x: &[f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (y, &x) in y.iter_mut().zip(x) {
        *y = s.mul_add(x, *y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn random(rows: usize, cols: usize, rng: &mut Rng) -> Tensor {
        let data = (0..rows * cols).map(|_| rng.uniform(-1.0, 1.0)).collect();
        Tensor::from_vec(rows, cols, data).unwrap()
    }

    /// op(x)[i][j] in f64.
    /// A random matrix that is `rows × cols` once `t` is applied.
    fn operand(rows: usize, cols: usize, t: Transpose, rng: &mut Rng) -> Tensor {
        match t {
            Transpose::No => random(rows, cols, rng),
            Transpose::Yes => random(cols, rows, rng),
        }
    }

    fn at(x: &Tensor, t: Transpose, i: usize, j: usize) -> f64 {
        match t {
            Transpose::No => x.as_slice()[i * x.cols() + j] as f64,
            Transpose::Yes => x.as_slice()[j * x.cols() + i] as f64,
        }
    }

    #[test]
    fn matmul_agrees_with_a_naive_f64_reference_on_awkward_shapes() {
        let mut rng = Rng::new(11);
        let shapes = [
            (0, 3, 4),
            (3, 0, 4),
            (3, 4, 0),
            (1, 1, 1),
            (1, 30, 784),
            (30, 784, 1),
            (1, 10, 30),
            (7, 5, 3),
            (63, 2, 10),
            (16, 1, 1),
            (33, 65, 17),
            (128, 512, 784),
            (256, 128, 512),
            // Remainders of every tile size of tensor/avx512.rs, in rows, columns and
            // the inner index.
            (13, 47, 200),
            (130, 70, 33),
            (9, 100, 31),
            (6, 257, 19),
            // One row through a layer big enough to be split between cores.
            (1, 300, 784),
            (1, 37, 2000),
        ];
        for &(m, n, k) in &shapes {
            for ta in [Transpose::No, Transpose::Yes] {
                for tb in [Transpose::No, Transpose::Yes] {
                    let row = random(1, n, &mut rng);
                    let accums = [
                        Accum::Replace,
                        Accum::Add,
                        Accum::AddScaled(-0.5),
                        Accum::AddRow(row.as_slice()),
                    ];
                    for accum in accums {
                        for par in [Parallelism::Sequential, Parallelism::Threads(2)] {
                            let a = operand(m, k, ta, &mut rng);
                            let b = operand(k, n, tb, &mut rng);
                            let start = random(m, n, &mut rng);
                            let mut out = start.clone();
                            matmul(&mut out, &a, ta, &b, tb, accum, par);
                            if let Accum::AddRow(row) = accum {
                                // The same bits as the row copied into C and C + A·B.
                                let mut copied = start.clone();
                                for i in 0..m {
                                    copied.row_mut(i).copy_from_slice(row);
                                }
                                matmul(&mut copied, &a, ta, &b, tb, Accum::Add, par);
                                assert_eq!(out, copied, "({m},{n},{k}) {ta:?} {tb:?} AddRow");
                            }
                            for i in 0..m {
                                for j in 0..n {
                                    let mut s: f64 = (0..k)
                                        .map(|kk| at(&a, ta, i, kk) * at(&b, tb, kk, j))
                                        .sum();
                                    match accum {
                                        Accum::Replace => {}
                                        Accum::Add => s += start.as_slice()[i * n + j] as f64,
                                        Accum::AddRow(row) => s += row[j] as f64,
                                        Accum::AddScaled(f) => {
                                            s = f as f64 * s + start.as_slice()[i * n + j] as f64
                                        }
                                    }
                                    let got = out.as_slice()[i * n + j] as f64;
                                    assert!(
                                        (got - s).abs() <= 1e-4 * (1.0 + k as f64).sqrt(),
                                        "({m},{n},{k}) {ta:?} {tb:?} {accum:?}: [{i}][{j}] = {got}, expected {s}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_product_gives_the_same_bits_on_1_to_5_threads_and_in_bands() {
        // The training step shares products out by bands of rows or columns; an
        // element of C must not depend on which band or tile it fell in.
        let mut rng = Rng::new(5);
        for (m, n, k, ta, tb) in [
            (128, 256, 784, Transpose::No, Transpose::Yes), // forward
            (256, 784, 128, Transpose::Yes, Transpose::No), // weight gradient
            (128, 512, 256, Transpose::No, Transpose::No),  // error sent down
            (37, 91, 45, Transpose::No, Transpose::Yes),
            (91, 37, 45, Transpose::Yes, Transpose::No),
        ] {
            let a = operand(m, k, ta, &mut rng);
            let b = operand(k, n, tb, &mut rng);
            let mut one = Tensor::zeros(m, n);
            matmul(
                &mut one,
                &a,
                ta,
                &b,
                tb,
                Accum::Replace,
                Parallelism::Sequential,
            );
            for threads in 2..=5 {
                let mut many = Tensor::zeros(m, n);
                with_threads(threads, || {
                    let par = Parallelism::Threads(threads);
                    matmul(&mut many, &a, ta, &b, tb, Accum::Replace, par)
                })
                .unwrap();
                assert_eq!(one, many, "({m},{n},{k}) on {threads} threads");
            }
            // Columns 0..c and c..n computed apart, c not a multiple of any tile.
            let c = n / 3 + 1;
            let mut banded = Tensor::zeros(m, n);
            fn op(x: &Tensor, t: Transpose) -> MatRef<'_> {
                match t {
                    Transpose::No => x.view(),
                    Transpose::Yes => x.view().t(),
                }
            }
            let (left, right) = banded.view_mut().split_at_col(c);
            let (av, bv) = (op(&a, ta), op(&b, tb));
            gemm(
                left,
                av,
                bv.col_band(0..c),
                Accum::Replace,
                Parallelism::Sequential,
            );
            gemm(
                right,
                av,
                bv.col_band(c..n),
                Accum::Replace,
                Parallelism::Sequential,
            );
            assert_eq!(one, banded, "({m},{n},{k}) in two bands of columns");
        }
    }

    #[test]
    fn rows_of_b_that_are_zero_give_the_same_bits_skipped_or_not() {
        // The weight gradient δᵀ·X of a first layer skips the rows of X that are zero in
        // a block of 32 columns (tensor/avx512.rs). A row of −0.0 is not skipped (its
        // bits are not zero) and adds ±0 to every sum: the same bits must come out.
        let mut rng = Rng::new(21);
        for (m, n, k) in [(256, 784, 128), (37, 91, 45), (8, 32, 1)] {
            let a = random(k, m, &mut rng);
            let mut zeros = random(k, n, &mut rng);
            for (p, row) in zeros.as_mut_slice().chunks_mut(n).enumerate() {
                // Blocks all zero, random, or zero but for one value somewhere.
                for (q, block) in row.chunks_mut(32).enumerate() {
                    let keep = block.get(p % 32).copied();
                    if (p + q) % 3 != 1 {
                        block.fill(0.0);
                    }
                    if let (2, Some(x)) = ((p + q) % 3, keep) {
                        block[p % 32] = x;
                    }
                }
            }
            let signed: Vec<f32> = zeros
                .as_slice()
                .iter()
                .map(|&x| if x == 0.0 { -0.0 } else { x })
                .collect();
            let signed = Tensor::from_vec(k, n, signed).unwrap();
            for accum in [Accum::Replace, Accum::AddScaled(-0.5)] {
                let start = random(m, n, &mut rng);
                let (mut skipped, mut computed) = (start.clone(), start.clone());
                let seq = Parallelism::Sequential;
                matmul(
                    &mut skipped,
                    &a,
                    Transpose::Yes,
                    &zeros,
                    Transpose::No,
                    accum,
                    seq,
                );
                matmul(
                    &mut computed,
                    &a,
                    Transpose::Yes,
                    &signed,
                    Transpose::No,
                    accum,
                    seq,
                );
                assert_eq!(skipped, computed, "({m},{n},{k}) {accum:?}");
                for i in 0..m {
                    for j in 0..n {
                        let s: f64 = (0..k)
                            .map(|p| at(&a, Transpose::Yes, i, p) * at(&zeros, Transpose::No, p, j))
                            .sum();
                        let s = match accum {
                            Accum::AddScaled(f) => {
                                f as f64 * s + start.as_slice()[i * n + j] as f64
                            }
                            _ => s,
                        };
                        let got = skipped.as_slice()[i * n + j] as f64;
                        assert!((got - s).abs() <= 1e-4 * (1.0 + k as f64).sqrt());
                    }
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_broadcast_kernel_gives_the_same_bits_with_and_without_skipping() {
        // tensor/avx512.rs skips the inner indices where A is zero in a tile's 8 rows or
        // B in its 32 columns. The same kernel with skipping turned off is the reference:
        // every sum must come out with the same bits, whether A or B or both or neither
        // have zeros, through a plain A or a transposed view of one.
        if !avx512::available() {
            return;
        }
        let mut rng = Rng::new(23);
        // Zero one block in `pick` of `x`'s blocks of `r` rows × `c` columns.
        let blank = |x: &mut Tensor, r: usize, c: usize, pick: usize| {
            let cols = x.cols();
            for (i, row) in x.as_mut_slice().chunks_mut(cols).enumerate() {
                for (q, v) in row.iter_mut().enumerate() {
                    let block = (i / r) * 7 + (q / c) * 3;
                    // Half of the zeroed blocks keep one value, somewhere different in each.
                    let survivor = (i % r) * c + q % c == (block / 2) % (r * c);
                    if block.is_multiple_of(pick) && !(block.is_multiple_of(2 * pick) && survivor) {
                        *v = 0.0;
                    }
                }
            }
        };
        for (m, n, k) in [
            (128, 256, 256),
            (256, 784, 128),
            (37, 91, 45),
            (8, 32, 1),
            (130, 40, 300),
        ] {
            for (a_zeros, b_zeros) in [(true, false), (false, true), (true, true), (false, false)] {
                let mut a = random(m, k, &mut rng);
                let mut at_ = random(k, m, &mut rng);
                let mut b = random(k, n, &mut rng);
                if a_zeros {
                    blank(&mut a, 8, 1, 3);
                    blank(&mut at_, 1, 8, 3);
                }
                if b_zeros {
                    blank(&mut b, 1, 32, 2);
                }
                for (a, name) in [(a.view(), "A"), (at_.view().t(), "Aᵀ")] {
                    for read in [false, true] {
                        let start = random(m, n, &mut rng);
                        let (mut skipped, mut all) = (start.clone(), start.clone());
                        let mut live = avx512::Live::default();
                        // SAFETY: this CPU has AVX-512F; the shapes agree and b's rows are
                        // contiguous; the outputs are separate tensors.
                        unsafe {
                            avx512::rows_of_b_with(
                                &mut live,
                                skipped.view_mut(),
                                a,
                                b.view(),
                                read,
                                -0.5,
                                true,
                            );
                            avx512::rows_of_b_with(
                                &mut live,
                                all.view_mut(),
                                a,
                                b.view(),
                                read,
                                -0.5,
                                false,
                            );
                        }
                        assert!(
                            skipped.as_slice().iter().zip(all.as_slice()).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "({m},{n},{k}) {name} zeros in A {a_zeros}, in B {b_zeros}, read {read}"
                        );
                        let (i, j) = (m - 1, n / 2);
                        let s: f64 = (0..k)
                            .map(|p| a.at(i, p) as f64 * b.view().at(p, j) as f64)
                            .sum();
                        let want = -0.5 * s
                            + if read {
                                start.as_slice()[i * n + j] as f64
                            } else {
                                0.0
                            };
                        assert!((skipped.as_slice()[i * n + j] as f64 - want).abs() < 1e-3);
                    }
                }
            }
        }
    }

    /// Values in (−1, 1), about half of them exactly zero (an image's blank pixels).
    fn blank_half(len: usize, rng: &mut Rng) -> Vec<f32> {
        (0..len)
            .map(|_| match rng.below(2) {
                0 => 0.0,
                _ => rng.uniform(-1.0, 1.0),
            })
            .collect()
    }

    #[test]
    fn the_online_sweep_makes_the_step_and_the_sums_and_leaves_blank_rows_alone() {
        let mut rng = Rng::new(12);
        let lr = 0.3;
        for (k, n) in [
            (1usize, 1usize),
            (7, 15),
            (40, 16),
            (784, 30),
            (33, 64),
            (50, 100),
            (20, 130),
        ] {
            for (stride, with_next, avx) in [
                (n, true, true),
                (n.next_multiple_of(16), true, true),
                (n, false, true),
                (n, true, false),
                (n.next_multiple_of(16), false, false),
            ] {
                let (x_prev, x) = (blank_half(k, &mut rng), blank_half(k, &mut rng));
                let delta = random(1, n, &mut rng).into_vec();
                let start = random(k, stride, &mut rng).into_vec();
                let z_start = random(1, n, &mut rng).into_vec();
                // The formulas, in f64.
                let step = |p: usize, j: usize| {
                    let w = f64::from(start[p * stride + j]);
                    w + f64::from(x_prev[p]) * f64::from(-lr * delta[j])
                };
                let (mut w, mut z) = (start.clone(), z_start.clone());
                let view = MatMut::new(&mut w, k, stride).col_band(0..n);
                let next = with_next.then_some((&x[..], &mut z[..]));
                match avx {
                    true => sgd_step_then_row_times_rows(view, &x_prev, &delta, lr, next),
                    false => sgd_step_then_row_times_rows_loop(view, &x_prev, &delta, lr, next),
                }
                let case = format!("k {k}, n {n}, stride {stride}, next {with_next}, avx {avx}");
                for p in 0..k {
                    for j in 0..stride {
                        let (got, was) = (w[p * stride + j], start[p * stride + j]);
                        if j >= n || x_prev[p] == 0.0 {
                            // Padding, and rows the last example left: the same bits.
                            assert_eq!(got.to_bits(), was.to_bits(), "{case}: w[{p}][{j}]");
                        } else {
                            assert!(
                                (f64::from(got) - step(p, j)).abs() < 1e-6,
                                "{case}: w[{p}][{j}]"
                            );
                        }
                    }
                }
                for j in 0..n {
                    let want = match with_next {
                        true => {
                            (0..k).map(|p| f64::from(x[p]) * step(p, j)).sum::<f64>()
                                + f64::from(z_start[j])
                        }
                        false => f64::from(z_start[j]),
                    };
                    assert!(
                        (f64::from(z[j]) - want).abs() < 1e-4,
                        "{case}: z[{j}] {} against {want}",
                        z[j]
                    );
                }
            }
        }
    }

    #[test]
    fn one_row_times_rows_skips_its_zeros_and_gives_the_product() {
        let mut rng = Rng::new(13);
        for (k, n) in [(1, 1), (10, 30), (784, 30), (33, 64), (50, 100), (20, 130)] {
            let a = blank_half(k, &mut rng);
            let b = random(k, n, &mut rng);
            let row = random(1, n, &mut rng).into_vec();
            for accum in [Accum::Replace, Accum::AddRow(&row), Accum::AddScaled(-0.5)] {
                let start = random(1, n, &mut rng);
                let mut out = start.clone();
                let a_view = MatRef::new(&a, 1, k);
                gemm(
                    out.view_mut(),
                    a_view,
                    b.view(),
                    accum,
                    Parallelism::Sequential,
                );
                for j in 0..n {
                    let sum: f64 = (0..k)
                        .map(|p| f64::from(a[p]) * f64::from(b.as_slice()[p * n + j]))
                        .sum();
                    let want = match accum {
                        Accum::Replace => sum,
                        Accum::AddRow(r) => f64::from(r[j]) + sum,
                        Accum::AddScaled(s) => f64::from(start.as_slice()[j]) + f64::from(s) * sum,
                        Accum::Add => unreachable!(),
                    };
                    let got = f64::from(out.as_slice()[j]);
                    assert!(
                        (got - want).abs() < 1e-4,
                        "k {k}, n {n}: {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn four_row_dot_matches_dot() {
        let mut rng = Rng::new(5);
        let mut exact = 0;
        for k in [1, 15, 16, 30, 64, 100, 784] {
            let x: Vec<f32> = (0..k).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let w: Vec<f32> = (0..4 * k + 16).map(|_| rng.uniform(-1.0, 1.0)).collect();
            // Every start offset from a cache line, and rows sharing it or not.
            for start in 0..16 {
                let rows = [0, 1, 2, 3].map(|r| &w[start + r * k..start + (r + 1) * k]);
                let got = dot4(&x, rows);
                for (r, row) in rows.iter().enumerate() {
                    let want = dot(&x, row);
                    let on_line = |r: &[f32]| (r.as_ptr() as usize).is_multiple_of(64);
                    if rows.iter().all(|r| on_line(r)) {
                        // Rows on a cache line: the very sums of `dot`.
                        assert_eq!(got[r].to_bits(), want.to_bits(), "k {k} start {start}");
                        exact += 1;
                    } else {
                        assert!(
                            (got[r] - want).abs() <= 1e-5 * k as f32,
                            "k {k} start {start}"
                        );
                    }
                }
            }
        }
        assert!(exact > 0, "some start put the rows on cache lines");
    }

    #[test]
    fn a_one_row_product_split_between_1_to_8_threads_equals_one_thread() {
        let mut rng = crate::rng::Rng::new(3);
        let (k, n) = (300, 200); // 200 outputs: shares of 32, 64, 80 … with a short last one
        let a: Vec<f32> = (0..k).map(|_| rng.next_f32() - 0.5).collect();
        let b: Vec<f32> = (0..n * k).map(|_| rng.next_f32() - 0.5).collect();
        let mut expected = vec![0.25; n];
        let w = MatRef::new(&b, n, k);
        row_times_transposed(&mut expected, &a, w, true, 0.5);
        for threads in [1, 2, 3, 4, 8] {
            let pool = crate::spin::Pool::new(threads - 1);
            for shares in 1..=threads {
                let mut out = vec![0.25; n];
                assert!(split_row_times_transposed(
                    &pool, shares, &mut out, &a, w, true, 0.5
                ));
                // Each output is the same dot product, whichever thread computes it.
                assert_eq!(out, expected, "{shares} shares of a pool of {threads}");
            }
        }
    }

    #[test]
    fn from_vec_checks_the_length() {
        assert!(Tensor::from_vec(2, 3, vec![0.0; 5]).is_err());
        let t = Tensor::from_vec(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.row(1), [3.0, 4.0]);
    }

    // Sizes whose product wraps to 0 in a usize: unchecked, each would make an empty
    // buffer that `at(5, 5)` then reads past.
    const HUGE: (usize, usize) = (1 << 33, 1 << 31);

    #[test]
    #[should_panic(expected = "a 8589934592 × 2147483648 matrix has more values")]
    fn zeros_with_overflowing_sizes_panics() {
        let t = Tensor::zeros(HUGE.0, HUGE.1);
        let _ = t.view().at(5, 5);
    }

    #[test]
    fn from_vec_with_overflowing_sizes_is_an_error() {
        let e = Tensor::from_vec(HUGE.0, HUGE.1, vec![]).unwrap_err();
        assert!(
            matches!(&e, Error::Shape(m) if m.contains("8589934592 × 2147483648")),
            "{e}"
        );
    }

    #[test]
    #[should_panic(expected = "a 8589934592 × 2147483648 matrix has more values")]
    fn resize_with_overflowing_sizes_panics() {
        let mut t = Tensor::zeros(2, 2);
        t.resize(HUGE.0, HUGE.1);
        let _ = t.view().at(5, 5);
    }

    #[test]
    #[should_panic(expected = "a 8589934592 × 2147483648 matrix has more values")]
    fn matref_with_overflowing_sizes_panics() {
        let v = MatRef::new(&[], HUGE.0, HUGE.1);
        let _ = v.at(5, 5);
    }

    #[test]
    #[should_panic(expected = "a 8589934592 × 2147483648 matrix has more values")]
    fn matmut_with_overflowing_sizes_panics() {
        let mut v = MatMut::new(&mut [], HUGE.0, HUGE.1);
        let _ = v.row_mut(5);
    }
}
