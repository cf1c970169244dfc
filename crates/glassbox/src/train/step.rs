//! The training step: the one piece of code every run executes — one thread or T,
//! mini-batch, online (one example per step) or full-batch.
//!
//! A step is the article's: forward, loss, backward, update. Each formula is a function
//! of `crate::layer` (`forward`, `dropout`, `gradients`, `error_below`,
//! `delta_from_error`), of [`crate::loss`] (`sum_and_delta`) and of [`crate::optim`]
//! (`update_part`); this file only says who computes which part, and when.
//!
//! With T threads, thread t owns a band of neurons in every layer (a contiguous run of
//! rows of W, a multiple of 16 wide): it computes those neurons' weighted sums and
//! activations for the whole batch, their weight gradients, and their update — the same
//! functions as one thread, on a band of rows. The output layer, whose softmax and loss
//! need whole rows, goes forward by bands of examples instead. With one thread every
//! band is the whole layer and no thread waits. One step of a 784-512-256-10 network on
//! 2 threads:
//!
//! ```text
//!            thread 0                         thread 1
//!   (X holds the batch: gathered during the previous step, or before the first)
//! layer 1    Z¹[:, 0..256] = X·W¹[0..256]ᵀ    Z¹[:, 256..512] = X·W¹[256..512]ᵀ
//!   ─ ─ ─ wait (layer 2 reads all of A¹) ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! layer 2    Z²[:, 0..128]                    Z²[:, 128..256]
//!   ─ ─ ─ wait ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! output     examples 0..64: Z³, softmax, δ³, examples 64..128: the same
//!            then δ²[0..64, :] = (δ³·W³)…     δ²[64..128, :]
//!   ─ ─ ─ wait (backward reads all of δ³ and δ²; nobody reads W³ any more) ─ ─ ─
//! layer 3    ∂W³ rows 0..10, update them
//! layer 2    ∂W² rows 0..128, δ¹[:, 0..256]   ∂W² rows 128..256, δ¹[:, 256..512]
//! gather     next examples 0..64 → X′         next examples 64..128 → X′
//!   ─ ─ ─ wait ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//!            update W² rows 0..128            update W² rows 128..256
//! layer 1    ∂W¹ rows 0..256, update them     ∂W¹ rows 256..512, update them
//!   (the next step starts at once: each thread's layer-1 forward pass reads X′ and
//!    only the rows of W¹ it has just updated itself)
//! ```
//!
//! While an epoch runs, the first layer's weights are stored transposed, each thread's
//! band in a block of its own (see [`run_epoch`]): the same products, read in the layout
//! that lets both of them skip an image's blank pixels.
//!
//! X has two buffers, used by turns (X′ is the other one), so the next batch is gathered
//! while this step's X is still read. Each wait costs the time by which one thread's
//! share of the work ran late (jitter on a busy machine), so the fewer, the better: a
//! step of this network has four, where a wait after the gather and one after layer
//! 3's backward pass (δ² by bands of neurons) were removed (bench/RESULTS.md).
//!
//! Against splitting the batch into halves that each go forward and back through the
//! whole network, each core reads only its own band of W¹, every weight gradient is
//! computed once for the whole batch, and no two gradients are added. Every update is
//! per weight, so the result is the same as the one-thread step up to the order of
//! additions inside the products; dropout masks depend only on the seed, the step and
//! the position, so they are the same for any thread count.
//!
//! The threads share the batch's buffers and the network's weights through raw
//! pointers. Each writes only its own band (of columns, rows or examples), and the
//! waits above order every write before every read of it by another thread: that is
//! the whole safety argument of this file, and each `unsafe` block names its part.
//! The types carry the "when": a thread's views of the shared buffers are borrowed
//! from its [`Phase`], the part of the step it is in, which each wait takes by value
//! and hands back ([`Context::wait`]), so no view outlives a wait, and what another
//! thread wrote before a wait is read through a view made after it. The "who writes
//! what" is the drawing above; `loom_tests` model-checks it, one epoch of 2 threads, 2
//! layers and 2 steps with dropout under every interleaving within loom's preemption
//! bound, every view reporting the elements it touches to loom's race detector:
//!
//! ```text
//! RUSTFLAGS="--cfg glassbox_loom -C target-cpu=native" CARGO_TARGET_DIR=target/loom \
//!   cargo test -p glassbox --lib --release loom
//! ```
//!
//! The step's parts are functions of [`Context`], in the order of the drawing:
//! [`Context::forward`] (`forward_hidden` for each hidden layer, `forward_output`),
//! `report`, [`Context::backward`] (`gradients`, `error_below`, `gather`, `update`).

use super::{count_correct, share_of_batch, AllReduce, TrainConfig};
use crate::activation::Activation;
use crate::data::Dataset;
use crate::layer::{self, Dense};
use crate::network::{Network, Workspace};
use crate::optim::{update_part, OptimizerState};
use crate::rng;
use crate::sync::{AtomicBool, AtomicU64, Ordering, SpinBarrier};
use crate::tensor::{MatMut, MatRef, Parallelism, Tensor};
use std::ops::Range;
use std::sync::Mutex;

/// Per thread and batch, at least this much work (batch rows × parameters ÷ threads)
/// before a step is shared out by bands of neurons: 2 Mi multiply-adds, e.g. batch 128
/// of 784-512-256-10 (535 818 parameters), but not batch 32 of the 64-128-10 digits net.
pub const SPLIT_MIN_WORK: usize = 1 << 21;

/// Whether a network can be trained by neuron bands: every hidden activation must act
/// on each neuron alone (softmax mixes a whole row).
pub(super) fn can_split(network: &Network) -> bool {
    let layers = network.layers();
    layers[..layers.len() - 1]
        .iter()
        .all(|l| l.activation() != Activation::Softmax)
}

/// The batch's buffers, allocated once for the largest batch: the examples (two
/// buffers, used by turns, so the next step's examples can be gathered while another
/// thread still reads this step's, and online learning still has the previous example),
/// the targets, and every layer's z, a, δ, dropout masks and gradients.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    x: [Tensor; 2],
    y: Tensor,
    ws: Workspace,
    /// The first layer's weights and their optimiser state (first and second), stored
    /// transposed while an epoch runs (see [`run_epoch`]).
    first: [Tensor; 3],
}

impl Buffers {
    /// Buffers for batches of up to `batch` rows of `network` on `data`.
    pub(super) fn new(network: &Network, data: &Dataset, batch: usize, dropout: f32) -> Self {
        let mut ws = Workspace::new(network, batch);
        ws.set_dropout(network, dropout);
        Buffers {
            x: [
                Tensor::zeros(batch, data.width()),
                Tensor::zeros(batch, data.width()),
            ],
            y: Tensor::zeros(batch, data.target_width()),
            ws,
            first: Default::default(),
        }
    }
}

/// How an epoch's steps run.
pub(super) struct Epoch<'a> {
    pub config: &'a TrainConfig,
    pub data: &'a Dataset,
    /// The examples in this epoch's order, taken `batch` at a time.
    pub order: &'a [usize],
    pub batch: usize,
    /// Threads sharing each step by bands of neurons (1: every band is the whole layer).
    pub threads: usize,
    /// What the matrix products may use (more than one thread only when `threads` is 1).
    pub par: Parallelism,
    /// Online SGD: the first layer's update of one step is made during the next step's
    /// forward pass (the fast path [`Dense::sgd_step_then_weighted_sums`]).
    pub online: bool,
    /// The batches are chunks of one full-batch step: gradients are summed over them and
    /// the update is made once, after the last.
    pub full_batch: bool,
    /// δᴸ's reduction: 1/B for a batch of B, or 1/N for the full batch.
    pub scale: Option<f32>,
    /// The learning rate of batch b.
    pub learning_rate: &'a (dyn Fn(usize) -> f32 + Sync),
    /// The dropout masks' key for this epoch.
    pub dropout_key: u64,
    /// The other workers of a data-parallel run: this process takes its share of each
    /// batch of `batch` examples, and the gradients are summed with theirs before the
    /// update ([`Context::all_reduce`]).
    pub workers: Option<&'a dyn AllReduce>,
}

/// What the main thread learns after each step's forward pass, to report and decide.
pub(super) struct StepOutcome<'a> {
    /// Index of the batch in the epoch.
    pub batch: usize,
    /// The examples of the batch.
    pub rows: &'a [usize],
    /// The batch's loss, summed over its examples.
    pub loss: f64,
    /// The output layer's activations, one row per example.
    pub outputs: &'a [f32],
    /// Examples in the batch: `rows.len()`, or with workers the whole global batch's.
    pub examples: usize,
    /// With workers, how many examples of the global batch were classified right.
    pub correct: Option<usize>,
    /// With workers: one of them asked to stop at the previous step (its report
    /// returned false), so every one ends the epoch here.
    pub stop_agreed: bool,
}

/// One epoch: `epoch.order` in steps, each shared by `epoch.threads` threads (this one
/// and idle threads of the current rayon pool). After each step's forward pass this
/// thread calls `after_forward`; when it returns false, the epoch ends after that step.
/// Returns how many threads ran their part of the epoch to the end (counted once per
/// thread, after its last step: [`crate::train::EpochReport::threads`]), and, with
/// workers, why they could not sum their gradients, if they could not.
///
/// With workers, this thread reports each step after the gradients are summed, with the
/// global batch's loss and count of right answers; a report that returns false asks
/// every worker to stop at the next step.
pub(super) fn run_epoch(
    buffers: &mut Buffers,
    network: &mut Network,
    state: &mut OptimizerState,
    epoch: &Epoch<'_>,
    after_forward: &mut dyn FnMut(StepOutcome<'_>) -> bool,
) -> (usize, Option<String>) {
    let steps = epoch.order.len().div_ceil(epoch.batch);
    let first_step = state.take_steps(if epoch.full_batch { 1 } else { steps as u32 });
    // A first layer below others is stored transposed for the epoch, each thread's band
    // of neurons in its own block (W¹ rows r..s, `(s − r) × inputs`, become the block
    // `inputs × (s − r)` at the same place), and its gradient and optimiser state alike.
    // Then both of its products read a matrix with contiguous rows, the layout of the
    // broadcast-form kernel, which skips zeros in both (tensor/avx512.rs): z = x·W¹ᵀ
    // reads rows of the block and skips the pixels that are blank in all of a tile's 8
    // images, and ∂W¹ᵀ = xᵀ·δ reads rows of δ and skips the runs of 8 blank pixels of an
    // image (28% of Fashion-MNIST's). The optimiser still updates one run of memory per
    // band. Online learning (one thread, one band) pads each row of its block to whole
    // registers of 16 (`padded`), so that no register of one row spans the next: its
    // fused step stores each row it visits, and a load that overlaps a store in flight
    // waits for it.
    let transposed = network.layers().len() > 1;
    let layout = Blocks {
        threads: epoch.threads,
        padded: epoch.online,
    };
    if transposed {
        let (layer, [wf, ws, ..]) = (&mut network.layers_mut()[0], &mut state.buffers_mut()[0]);
        let (outputs, inputs) = (layer.outputs(), layer.inputs());
        let w = layer.parameters_mut().0;
        for (blocks, rows) in buffers.first.iter_mut().zip([w, &mut **wf, &mut **ws]) {
            if !rows.is_empty() {
                let len = layout.len(outputs) * inputs;
                if blocks.as_slice().len() != len {
                    *blocks = Tensor::zeros(1, len);
                }
                layout.swap(rows, blocks.as_mut_slice(), (outputs, inputs), true);
            }
        }
    }
    let ws = &mut buffers.ws;
    let first = &mut buffers.first;
    let layers: Vec<LayerPtrs> = network
        .layers_mut()
        .iter_mut()
        .zip(state.buffers_mut())
        .zip(&mut ws.grads)
        .enumerate()
        .map(|(l, ((layer, [wf, ws, bf, bs]), grads))| {
            let (inputs, outputs, activation) =
                (layer.inputs(), layer.outputs(), layer.activation());
            let (weights, biases) = layer.parameters_mut();
            let transposed = transposed && l == 0;
            let [weights, wf, ws] = match transposed {
                true => {
                    let [w, f, s] = &mut *first;
                    let state = |t: &mut Tensor, s: &mut [f32]| match s.is_empty() {
                        true => Shared::of(s),
                        false => Shared::of(t.as_mut_slice()),
                    };
                    [Shared::of(w.as_mut_slice()), state(f, wf), state(s, ws)]
                }
                false => [weights, wf, ws].map(Shared::of),
            };
            LayerPtrs {
                layout,
                inputs,
                outputs,
                activation,
                transposed,
                weights,
                biases: Shared::of(biases),
                grad_weights: Shared::of(grads.weights.as_mut_slice()),
                grad_biases: Shared::of(&mut grads.biases),
                state: [wf, ws, Shared::of(bf), Shared::of(bs)].map(|s| (s.len > 0).then_some(s)),
            }
        })
        .collect();
    let all = |ts: &mut Vec<Tensor>| -> Vec<Shared> {
        ts.iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect()
    };
    let [x0, x1] = &mut buffers.x;
    let last = layers.len() - 1;
    let ctx = Context {
        epoch,
        steps,
        first_step,
        layers,
        last,
        dropout: epoch.config.dropout > 0.0,
        fused: epoch.online && transposed,
        // With two layers or more and more than one thread, the next batch is gathered
        // during this step's backward pass, before its last wait (see `gather`), and a
        // step starts without waiting; with one layer that step has no wait to gather
        // before, and one thread never waits (online learning gathers each example just
        // before its forward pass, a step after its prefetch).
        early_gather: last > 0 && epoch.threads > 1,
        // With three layers or more, δ of the layer below the output goes by bands of
        // examples right after the output layer's δ, in the same part of the step, and
        // the output layer's backward pass needs no wait of its own. (With two layers
        // the wait it saves is the one after which every thread learns whether the
        // epoch stops, so they keep it.)
        down_by_examples: last >= 2,
        x: [Shared::of(x0.as_mut_slice()), Shared::of(x1.as_mut_slice())],
        y: Shared::of(buffers.y.as_mut_slice()),
        z: all(&mut ws.weighted_sums),
        a: all(&mut ws.activations),
        d: all(&mut ws.deltas),
        masks: all(&mut ws.masks),
        dropped: all(&mut ws.dropped),
        barrier: SpinBarrier::new(epoch.threads),
        stop: AtomicBool::new(false),
        losses: (0..epoch.threads).map(|_| AtomicU64::new(0)).collect(),
        flat: Mutex::new(Vec::new()),
        failed: Mutex::new(None),
        asked: AtomicBool::new(false),
    };
    let worked = if epoch.threads == 1 {
        ctx.work(0, Some(after_forward));
        1
    } else {
        share(&ctx, after_forward)
    };
    let failed = ctx.failed.lock().map_or(None, |mut f| f.take());
    drop(ctx);
    #[cfg(glassbox_loom)]
    loom_cells::clear();
    if transposed {
        // Back to the layout of the network and the optimiser state.
        let (layer, [wf, ws, ..]) = (&mut network.layers_mut()[0], &mut state.buffers_mut()[0]);
        let (outputs, inputs) = (layer.outputs(), layer.inputs());
        let w = layer.parameters_mut().0;
        for (blocks, rows) in buffers.first.iter_mut().zip([w, &mut **wf, &mut **ws]) {
            if !rows.is_empty() {
                layout.swap(rows, blocks.as_mut_slice(), (outputs, inputs), false);
            }
        }
    }
    (worked, failed)
}

/// The first layer's layout while an epoch runs (see [`run_epoch`]): each thread's band
/// of neurons in a block of its own, transposed.
#[derive(Clone, Copy)]
struct Blocks {
    threads: usize,
    /// Each block's rows padded to a multiple of 16 (online learning).
    padded: bool,
}

impl Blocks {
    /// How far apart the rows of the block of a band of `width` neurons are.
    fn stride(self, width: usize) -> usize {
        match self.padded {
            true => width.next_multiple_of(16),
            false => width,
        }
    }

    /// The floats the blocks of a layer of `outputs` neurons take.
    fn len(self, outputs: usize) -> usize {
        (0..self.threads)
            .map(|t| self.stride(band(outputs, self.threads, t).len()))
            .sum()
    }

    /// Copies a layer's weights (or a state of its optimiser) from `rows`, `outputs ×
    /// inputs`, into `blocks` (`into_blocks`), or back.
    fn swap(
        self,
        rows: &mut [f32],
        blocks: &mut [f32],
        (outputs, inputs): (usize, usize),
        into_blocks: bool,
    ) {
        for t in 0..self.threads {
            let band = band(outputs, self.threads, t);
            let (at, stride) = (band.start * inputs, self.stride(band.len()));
            let block = &mut blocks[at..at + stride * inputs];
            let rows = &mut rows[at..at + band.len() * inputs];
            match into_blocks {
                true => transpose(
                    MatRef::new(rows, band.len(), inputs),
                    MatMut::new(block, inputs, stride),
                ),
                false => transpose(
                    MatRef::new(block, inputs, stride).col_band(0..band.len()),
                    MatMut::new(rows, band.len(), inputs),
                ),
            }
        }
    }
}

/// `to`'s first columns ← the transpose of `from` (`rows × cols`; `to` is `cols` ×
/// at least `rows`), by blocks of 16 × 16 so that both sides are read and written a
/// cache line at a time.
fn transpose(from: MatRef<'_>, mut to: MatMut<'_>) {
    let (rows, cols) = (from.rows(), from.cols());
    assert!(to.rows() == cols && to.cols() >= rows);
    for i0 in (0..rows).step_by(16) {
        for j0 in (0..cols).step_by(16) {
            for j in j0..(j0 + 16).min(cols) {
                let block = &mut to.row_mut(j)[i0..(i0 + 16).min(rows)];
                for (i, to) in (i0..).zip(block) {
                    *to = from.at(i, j);
                }
            }
        }
    }
}

/// Runs `ctx`'s epoch on its threads: this one and idle threads of the current rayon
/// pool. Returns how many of them ran their part to the end.
#[cfg(not(glassbox_loom))]
fn share(ctx: &Context<'_>, after_forward: &mut dyn FnMut(StepOutcome<'_>) -> bool) -> usize {
    let epoch = ctx.epoch;
    // One count per thread per epoch, after its last step: nothing in the steps.
    let worked = std::sync::atomic::AtomicUsize::new(0);
    let worked = &worked;
    // The helpers are jobs on the rayon pool the trainer runs in (`tensor::with_threads`
    // starts one of `config.threads` threads), whose other threads are idle here: the
    // trainer never asks for more helpers than the pool has threads, or a helper would
    // wait for a thread that is spinning at a barrier.
    rayon::in_place_scope(|scope| {
        for t in 1..epoch.threads {
            scope.spawn(move |_| {
                ctx.work(t, None);
                worked.fetch_add(1, Ordering::Relaxed);
            });
        }
        ctx.work(0, Some(after_forward));
        worked.fetch_add(1, Ordering::Relaxed);
    });
    worked.load(Ordering::Relaxed)
}

/// Under loom: runs `ctx`'s epoch on this thread and loom's threads, which loom
/// schedules in every order its model allows. Returns how many ran their part to the end.
#[cfg(glassbox_loom)]
fn share(ctx: &Context<'_>, after_forward: &mut dyn FnMut(StepOutcome<'_>) -> bool) -> usize {
    // loom's threads take only 'static closures: the context goes as its address, and
    // every thread is joined before this function returns (a panic ends the model).
    let at = ctx as *const Context<'_> as usize;
    let helpers: Vec<_> = (1..ctx.epoch.threads)
        .map(|t| {
            loom::thread::spawn(move || {
                // SAFETY: `ctx` outlives the thread, joined below.
                let ctx = unsafe { &*(at as *const Context<'static>) };
                ctx.work(t, None);
            })
        })
        .collect();
    ctx.work(0, Some(after_forward));
    for helper in helpers {
        helper.join().expect("a training thread panicked");
    }
    ctx.epoch.threads
}

/// A buffer that several threads read and write in disjoint parts: a pointer and the
/// buffer's length. Every view made of it is checked against the length, so the bounds
/// half of each `unsafe` block below is checked, and its argument is only about which
/// thread touches which part when.
///
/// Every view is borrowed from the [`Phase`] it is made in, so none outlives the next
/// wait. Under loom each buffer has a cell per element, and each view reports the
/// elements it reads or writes to loom's race detector (see `loom_tests`).
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut f32,
    len: usize,
    #[cfg(glassbox_loom)]
    cells: *const loom::cell::UnsafeCell<()>,
}

// SAFETY: `Shared` is only a pointer and a length; the module docs give the rule (own
// bands, ordered by the barrier) under which the threads use it.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`.
unsafe impl Sync for Shared {}

impl Shared {
    fn of(s: &mut [f32]) -> Self {
        Shared {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            #[cfg(glassbox_loom)]
            cells: loom_cells::new(s.len()),
        }
    }

    /// The row-major `rows × cols` matrix at the start of the buffer, all of it, to read.
    ///
    /// # Safety
    /// No thread writes any of it in this phase.
    ///
    /// # Panics
    /// When the matrix does not fit in the buffer.
    #[inline]
    unsafe fn read<'p>(self, _: &'p Phase, rows: usize, cols: usize) -> MatRef<'p> {
        self.fits(rows, cols);
        self.touch(0, 1, 0, rows * cols, false);
        // SAFETY: the matrix fits in the buffer; the caller's word for the threads.
        unsafe { MatRef::from_raw(self.ptr, rows, cols, cols, 1) }
    }

    /// Columns `band` of that matrix, to read.
    ///
    /// # Safety
    /// No thread writes them in this phase.
    ///
    /// # Panics
    /// When the matrix does not fit in the buffer, or the band in the matrix.
    #[inline]
    unsafe fn cols<'p>(
        self,
        _: &'p Phase,
        rows: usize,
        cols: usize,
        band: Range<usize>,
    ) -> MatRef<'p> {
        self.fits(rows, cols);
        self.touch(band.start, rows, cols, band.len(), false);
        // SAFETY: the matrix fits in the buffer; the caller's word for the threads.
        unsafe { MatRef::from_raw(self.ptr, rows, cols, cols, 1) }.col_band(band)
    }

    /// Columns `band` of that matrix, to write: a thread's own band.
    ///
    /// # Safety
    /// No other thread reads or writes them in this phase.
    ///
    /// # Panics
    /// When the matrix does not fit in the buffer, or the band in the matrix.
    #[inline]
    unsafe fn cols_mut<'p>(
        self,
        _: &'p Phase,
        rows: usize,
        cols: usize,
        band: Range<usize>,
    ) -> MatMut<'p> {
        self.fits(rows, cols);
        self.touch(band.start, rows, cols, band.len(), true);
        // SAFETY: the matrix fits in the buffer; the caller's word for the threads.
        unsafe { MatMut::from_raw(self.ptr, rows, cols, cols) }.col_band(band)
    }

    /// Rows `band` of a row-major matrix of `cols` columns, to read.
    ///
    /// # Safety
    /// No thread writes them in this phase.
    ///
    /// # Panics
    /// When the rows are outside the buffer.
    #[inline]
    unsafe fn rows<'p>(self, p: &'p Phase, cols: usize, band: Range<usize>) -> MatRef<'p> {
        // SAFETY: the caller's word.
        let rows = unsafe { self.slice_ref(p, band.start * cols, band.len() * cols) };
        MatRef::new(rows, band.len(), cols)
    }

    /// Rows `band` of a row-major matrix of `cols` columns, to write: a thread's own band.
    ///
    /// # Safety
    /// No other thread reads or writes them in this phase.
    ///
    /// # Panics
    /// When the rows are outside the buffer.
    #[inline]
    unsafe fn rows_mut<'p>(self, p: &'p Phase, cols: usize, band: Range<usize>) -> MatMut<'p> {
        // SAFETY: the caller's word.
        let rows = unsafe { self.slice(p, band.start * cols, band.len() * cols) };
        MatMut::new(rows, band.len(), cols)
    }

    /// Elements `start..start + len`, to write.
    ///
    /// # Safety
    /// No other thread reads or writes them in this phase.
    ///
    /// # Panics
    /// When the range is outside the buffer.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(self, _: &Phase, start: usize, len: usize) -> &mut [f32] {
        self.holds(start, len);
        self.touch(start, 1, 0, len, true);
        // SAFETY: the range is inside the buffer; the caller's word for the threads.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    /// Elements `start..start + len`, to read.
    ///
    /// # Safety
    /// No thread writes them in this phase.
    ///
    /// # Panics
    /// When the range is outside the buffer.
    #[inline]
    unsafe fn slice_ref(self, _: &Phase, start: usize, len: usize) -> &[f32] {
        self.holds(start, len);
        self.touch(start, 1, 0, len, false);
        // SAFETY: the range is inside the buffer; the caller's word for the threads.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), len) }
    }

    /// Asserts that a `rows × cols` matrix fits in the buffer.
    #[inline]
    fn fits(self, rows: usize, cols: usize) {
        assert!(
            rows.checked_mul(cols).is_some_and(|len| len <= self.len),
            "{rows}×{cols} outside {}",
            self.len
        );
    }

    /// Asserts that elements `start..start + len` are in the buffer.
    #[inline]
    fn holds(self, start: usize, len: usize) {
        assert!(
            start.checked_add(len).is_some_and(|end| end <= self.len),
            "{start}+{len} outside {}",
            self.len
        );
    }

    /// Under loom, reports an access to elements `start + i·stride + j` (i < rows,
    /// j < width, all inside the buffer) to loom; nothing otherwise.
    #[inline(always)]
    fn touch(self, start: usize, rows: usize, stride: usize, width: usize, write: bool) {
        #[cfg(glassbox_loom)]
        for i in 0..rows {
            for j in 0..width {
                // SAFETY: `cells` has one cell per element of the buffer, and the callers
                // checked that the elements are inside it.
                let cell = unsafe { &*self.cells.add(start + i * stride + j) };
                match write {
                    true => cell.with_mut(|_| ()),
                    false => cell.with(|_| ()),
                }
            }
        }
        #[cfg(not(glassbox_loom))]
        let _ = (start, rows, stride, width, write);
    }
}

/// Under loom, the cells through which [`Shared`]'s views report their accesses: made
/// by `run_epoch` and dropped at its end.
#[cfg(glassbox_loom)]
mod loom_cells {
    use loom::cell::UnsafeCell;
    use std::cell::RefCell;

    std::thread_local! {
        static CELLS: RefCell<Vec<Box<[UnsafeCell<()>]>>> = const { RefCell::new(Vec::new()) };
    }

    /// `len` new cells, alive until [`clear`].
    pub(super) fn new(len: usize) -> *const UnsafeCell<()> {
        let cells: Box<[UnsafeCell<()>]> = (0..len).map(|_| UnsafeCell::new(())).collect();
        let at = cells.as_ptr();
        CELLS.with_borrow_mut(|all| all.push(cells));
        at
    }

    /// Drops every cell.
    pub(super) fn clear() {
        CELLS.with_borrow_mut(Vec::clear);
    }
}

/// One layer, as the threads see it.
struct LayerPtrs {
    /// Stored transposed: the blocks' layout.
    layout: Blocks,
    inputs: usize,
    outputs: usize,
    activation: Activation,
    /// W, its gradient and its optimiser state are stored transposed, band by band (see
    /// [`run_epoch`]).
    transposed: bool,
    weights: Shared,
    biases: Shared,
    grad_weights: Shared,
    grad_biases: Shared,
    /// Optimiser state: weights' first and second, biases' first and second.
    state: [Option<Shared>; 4],
}

impl LayerPtrs {
    /// Online learning's whole first layer stored transposed (`inputs × outputs`, its
    /// rows padded), to write.
    ///
    /// # Safety
    /// One thread (online learning's); no other view of the weights is used meanwhile.
    unsafe fn transposed_block<'p>(&self, p: &'p Phase) -> MatMut<'p> {
        assert!(self.transposed);
        let stride = self.layout.stride(self.outputs);
        // SAFETY: the caller's word.
        let block = unsafe { self.weights.slice(p, 0, self.inputs * stride) };
        MatMut::new(block, self.inputs, stride).col_band(0..self.outputs)
    }

    /// The weight rows of neurons `cols` (`cols.len() × inputs`), to read: a band of W's
    /// rows, or, stored transposed, a transposed view of the band's block.
    ///
    /// # Safety
    /// No thread writes these neurons' weights in this phase. Stored transposed, `cols`
    /// is a thread's whole band.
    unsafe fn rows_of_w<'p>(&self, p: &'p Phase, cols: Range<usize>) -> MatRef<'p> {
        let inputs = self.inputs;
        match self.transposed {
            // SAFETY: the caller's word.
            false => unsafe { self.weights.rows(p, inputs, cols) },
            true => {
                let stride = self.layout.stride(cols.len());
                // SAFETY: the caller's word.
                let block = unsafe {
                    self.weights
                        .slice_ref(p, cols.start * inputs, stride * inputs)
                };
                MatRef::new(block, inputs, stride)
                    .col_band(0..cols.len())
                    .t()
            }
        }
    }
}

/// A thread's passage through one part of a step, from one wait of the barrier to the
/// next: its licence to touch the shared buffers. Every view of them is borrowed from
/// it ([`Shared`]), and [`Context::wait`] takes it by value and hands out the next one,
/// so the borrow checker sees that no view made before a wait is used after it: what
/// another thread wrote before a wait reaches this thread only through a view made
/// from the phase that the wait handed out.
///
/// It knows its thread, and so its bands ([`Phase::band`], [`Phase::rows`]): a thread's
/// views to write are made of its own bands. That the bands of one part of a step do not
/// overlap what another thread reads in that part is the protocol the module docs draw,
/// model-checked by loom (`loom_tests`).
///
/// Only [`Context::work`] makes one, one per thread.
struct Phase {
    t: usize,
    threads: usize,
}

impl Phase {
    /// This thread's band of `n` neurons.
    #[inline]
    fn band(&self, n: usize) -> Range<usize> {
        band(n, self.threads, self.t)
    }

    /// This thread's band of `n` neurons, the bands dealt from the last thread (the
    /// output layer's: see [`Context::backward`]).
    #[inline]
    fn band_from_last(&self, n: usize) -> Range<usize> {
        band(n, self.threads, self.threads - 1 - self.t)
    }

    /// This thread's band of a batch's `n` examples.
    #[inline]
    fn rows(&self, n: usize) -> Range<usize> {
        row_band(n, self.threads, self.t)
    }
}

struct Context<'a> {
    epoch: &'a Epoch<'a>,
    steps: usize,
    first_step: u32,
    layers: Vec<LayerPtrs>,
    /// The index of the output layer, L.
    last: usize,
    dropout: bool,
    /// Online learning's first-layer update is made during the next forward pass (two
    /// layers or more: the first is stored transposed).
    fused: bool,
    /// The next batch is gathered during this step's backward pass (see `gather`).
    early_gather: bool,
    /// δ of the layer below the output goes by bands of examples, with δᴸ.
    down_by_examples: bool,
    x: [Shared; 2],
    y: Shared,
    z: Vec<Shared>,
    a: Vec<Shared>,
    d: Vec<Shared>,
    masks: Vec<Shared>,
    dropped: Vec<Shared>,
    barrier: SpinBarrier,
    /// Set by thread 0 before a wait; every thread leaves after that wait.
    stop: AtomicBool,
    /// Each thread's share of the batch loss (f64 bits).
    losses: Vec<AtomicU64>,
    /// With workers: the buffer of the sum (thread 0's, between two waits).
    flat: Mutex<Vec<f32>>,
    /// With workers: why the sum failed.
    failed: Mutex<Option<String>>,
    /// With workers: the last report asked to stop.
    asked: AtomicBool,
}

/// Thread t's band of `n` items: bands are multiples of 16 wide (whole vector tiles).
fn band(n: usize, threads: usize, t: usize) -> Range<usize> {
    let per = n.div_ceil(threads).next_multiple_of(16);
    let start = (t * per).min(n);
    start..(start + per).min(n)
}

/// Thread t's band of a batch's `rows` examples.
fn row_band(rows: usize, threads: usize, t: usize) -> Range<usize> {
    let per = rows.div_ceil(threads);
    let start = (t * per).min(rows);
    start..(start + per).min(rows)
}

/// What every part of one step needs to know of it.
struct Step<'r> {
    /// Index of the batch in the epoch.
    b: usize,
    /// Its examples (this worker's share), and how many.
    rows: &'r [usize],
    n: usize,
    /// Where they start in the global batch, and its size (with no workers, 0 and n).
    offset: usize,
    total: usize,
    /// The buffer of x that holds them.
    x: Shared,
    /// The optimiser's step count of the update.
    step: u32,
}

impl Context<'_> {
    /// Thread t's part of every step of the epoch, in the parts the module docs draw:
    /// [`forward`](Self::forward), the report, [`backward`](Self::backward) (with the
    /// update and the next batch's gather).
    fn work(&self, t: usize, mut after_forward: Option<&mut dyn FnMut(StepOutcome<'_>) -> bool>) {
        let _poison = PoisonOnUnwind(&self.barrier);
        let e = self.epoch;
        let mut phase = Phase {
            t,
            threads: e.threads,
        };
        // Online learning: the learning rate and the input of the first layer's update
        // still to be made (during the next forward pass, or after the last step).
        let mut pending: Option<(f32, Shared)> = None;
        for (b, global) in e.order.chunks(e.batch).enumerate() {
            let mine = match e.workers {
                Some(w) => share_of_batch(global.len(), w.size(), w.rank()),
                None => 0..global.len(),
            };
            let rows = &global[mine.clone()];
            let s = Step {
                b,
                rows,
                n: rows.len(),
                offset: mine.start,
                total: global.len(),
                x: self.x[b % 2],
                step: self.first_step + if e.full_batch { 0 } else { b as u32 },
            };
            if b == 0 || !self.early_gather {
                // SAFETY: the first step (or, with one layer or one thread, every step):
                // the previous step ended with this step's buffer of x unread (see
                // `gather`).
                unsafe { self.gather(&phase, b, rows) };
                phase = self.wait(phase);
            }
            // The rows of the next batch to be gathered (this thread's share) start their
            // way to the cache: a whole step ahead of their gather.
            if let Some(next) = self.batch(b + 1 + usize::from(self.early_gather)) {
                for i in phase.rows(next.len()) {
                    e.data.prefetch_row(next[i]);
                }
            }
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let lr = (e.learning_rate)(b);
            let Some(workers) = e.workers else {
                phase = self.forward(phase, &s, pending.take());
                if let Some(report) = after_forward.as_deref_mut() {
                    self.report(&phase, &s, report);
                }
                phase = self.backward(phase, &s, lr);
                if self.fused {
                    pending = Some((lr, s.x));
                }
                continue;
            };
            // A worker's share of the last batch may be empty: its gradients are zeros.
            if s.n > 0 {
                phase = self.forward(phase, &s, None);
                phase = self.backward(phase, &s, lr);
            }
            phase = self.wait(phase);
            if let Some(report) = after_forward.as_deref_mut() {
                self.all_reduce(&phase, &s, workers, report);
            }
            phase = self.wait(phase);
            if self.failed.lock().map_or(true, |f| f.is_some()) {
                break;
            }
            for l in 0..=self.last {
                let outputs = self.layers[l].outputs;
                let mine = match l == self.last {
                    true => phase.band_from_last(outputs),
                    false => phase.band(outputs),
                };
                // SAFETY: after the wait above nobody reads the weights in this step;
                // rows `mine` are this thread's.
                unsafe { self.update(&phase, &self.layers[l], mine, lr, s.step) };
            }
        }
        if let Some((lr, x)) = pending {
            self.last_online_step(&phase, lr, x);
        }
    }

    /// Thread 0 of a worker, while the others wait: its gradients, loss, right answers
    /// and stop request go into one buffer, which `workers` sums with the other workers'
    /// ([`AllReduce::sum`]); the sums come back into the gradients, and the step is
    /// reported with the global batch's figures. A failed sum stops every thread.
    fn all_reduce(
        &self,
        p: &Phase,
        s: &Step<'_>,
        workers: &dyn AllReduce,
        report: &mut dyn FnMut(StepOutcome<'_>) -> bool,
    ) {
        let Ok(mut flat) = self.flat.lock() else {
            return;
        };
        flat.clear();
        // The first layer's gradient is in blocks (see `run_epoch`): it goes into the
        // buffer in the layout of the weights, the same on every worker.
        let copy = |flat: &mut Vec<f32>, into: bool| {
            let mut at = 0;
            for layer in &self.layers {
                let (inputs, outputs) = (layer.inputs, layer.outputs);
                for (g, len, blocks) in [
                    (layer.grad_weights, inputs * outputs, layer.transposed),
                    (layer.grad_biases, outputs, false),
                ] {
                    // SAFETY: thread 0 alone, between two waits, touches the gradients.
                    let g = unsafe { g.slice(p, 0, len) };
                    if !into {
                        flat.resize(at + len, 0.0);
                    }
                    let part = &mut flat[at..at + len];
                    match (blocks, s.n, into) {
                        (_, 0, false) => part.fill(0.0),
                        (true, _, false) => layer.layout.swap(part, g, (outputs, inputs), false),
                        (true, _, true) => layer.layout.swap(part, g, (outputs, inputs), true),
                        (false, _, false) => part.copy_from_slice(g),
                        (false, _, true) => g.copy_from_slice(part),
                    }
                    at += len;
                }
            }
            at
        };
        let grads = copy(&mut flat, false);
        let width = self.layers[self.last].outputs;
        // SAFETY: the output layer's activations were completed before a wait, and no
        // thread writes them in this phase.
        let outputs = unsafe { self.a[self.last].slice_ref(p, 0, s.n * width) };
        let (loss, correct) = match s.n {
            0 => (0.0, 0),
            _ => (
                self.losses
                    .iter()
                    .map(|l| f64::from_bits(l.load(Ordering::Relaxed)))
                    .sum(),
                count_correct(self.epoch.data, s.rows, outputs),
            ),
        };
        let asked = self.asked.load(Ordering::Relaxed);
        flat.extend([loss as f32, correct as f32, f32::from(u8::from(asked))]);
        if let Err(e) = workers.sum(&mut flat) {
            if let Ok(mut failed) = self.failed.lock() {
                *failed = Some(e);
            }
            self.stop.store(true, Ordering::Release);
            return;
        }
        copy(&mut flat, true);
        let [loss, correct, stop] = [flat[grads], flat[grads + 1], flat[grads + 2]];
        let outcome = StepOutcome {
            batch: s.b,
            rows: s.rows,
            loss: f64::from(loss),
            outputs,
            examples: s.total,
            correct: Some(correct.round() as usize),
            stop_agreed: stop > 0.0,
        };
        let go_on = report(outcome);
        self.asked.store(!go_on, Ordering::Relaxed);
        if stop > 0.0 {
            self.stop.store(true, Ordering::Release);
        }
    }

    /// Online learning's last first-layer step (learning rate `lr`, input `x`), with no
    /// next example to sum.
    fn last_online_step(&self, p: &Phase, lr: f32, x: Shared) {
        let (layer, l2) = (&self.layers[0], self.epoch.config.l2);
        // SAFETY: online learning runs on this thread alone.
        unsafe {
            Dense::sgd_step_then_weighted_sums(
                layer.transposed_block(p),
                layer.biases.slice(p, 0, layer.outputs),
                x.slice_ref(p, 0, layer.inputs),
                self.d[0].slice_ref(p, 0, layer.outputs),
                (lr, l2),
                None,
            );
        }
    }

    /// Waits for every thread to finish this part of the step and hands out the next:
    /// the views borrowed from `phase` are gone (the borrow checker sees to it), and
    /// everything any thread wrote before the wait can be read.
    #[inline]
    fn wait(&self, phase: Phase) -> Phase {
        self.barrier.wait();
        phase
    }

    /// The examples of batch b, if there is one.
    fn batch(&self, b: usize) -> Option<&[usize]> {
        let global = self.epoch.order.chunks(self.epoch.batch).nth(b)?;
        Some(match self.epoch.workers {
            Some(w) => &global[share_of_batch(global.len(), w.size(), w.rank())],
            None => global,
        })
    }

    /// Thread t's share of batch b (the examples `rows`): rows `row_band(…, t)` of the
    /// batch into x (the buffer of batch b) and y.
    ///
    /// Step b − 1 gathers batch b, just before its last wait (the one after the second
    /// layer's backward pass), so that a step starts without a wait of its own: by then
    /// every thread has passed a wait of step b − 1, so step b − 2, the last to read this
    /// buffer of x, is over everywhere; and y was last read by the output layer's forward
    /// pass of step b − 1, before an earlier wait. The first wait of step b, after the
    /// first layer's forward pass, publishes the rows to every thread.
    ///
    /// # Safety
    /// No other thread may read or write x's buffer of batch b or y in this phase.
    unsafe fn gather(&self, phase: &Phase, b: usize, rows: &[usize]) {
        let e = self.epoch;
        let (x, (width, outputs)) = (self.x[b % 2], (e.data.width(), e.data.target_width()));
        for i in phase.rows(rows.len()) {
            let r = rows[i];
            // SAFETY: row i of x's buffer of batch b and of y; the caller's word.
            let (x, y) = unsafe {
                (
                    x.slice(phase, i * width, width),
                    self.y.slice(phase, i * outputs, outputs),
                )
            };
            e.data.write_row(r, x);
            e.data.write_target_row(r, y);
        }
    }

    /// The forward pass: hidden layers by bands of neurons, the output layer (with the
    /// loss and δᴸ) by bands of examples, a wait after each layer.
    #[inline]
    fn forward(&self, mut phase: Phase, s: &Step<'_>, mut fused: Option<(f32, Shared)>) -> Phase {
        for l in 0..self.last {
            self.forward_hidden(&phase, s, l, fused.take());
            phase = self.wait(phase);
        }
        let loss = self.forward_output(&phase, s);
        self.losses[phase.t].store(loss.to_bits(), Ordering::Relaxed);
        self.wait(phase)
    }

    /// Hidden layer l, forward, by bands of neurons: this thread's columns of z and a
    /// (and of the dropout mask and the dropped activations) for the whole batch, from
    /// all of the layer's input. Online learning's first layer makes the last example's
    /// update first, in the same sweep (`fused`: its learning rate and input).
    #[inline]
    fn forward_hidden(&self, p: &Phase, s: &Step<'_>, l: usize, fused: Option<(f32, Shared)>) {
        let (e, layer, n) = (self.epoch, &self.layers[l], s.n);
        let (inputs, outputs, f) = (layer.inputs, layer.outputs, layer.activation);
        let cols = p.band(outputs);
        // SAFETY: columns `cols` of z and a are this thread's.
        let (mut z, mut a) = unsafe {
            (
                self.z[l].cols_mut(p, n, outputs, cols.clone()),
                self.a[l].cols_mut(p, n, outputs, cols.clone()),
            )
        };
        match fused {
            // Online (one thread, one example): the fast path. SAFETY: one thread; the
            // previous example and δ¹ stay as the last step left them.
            Some((lr, prev)) => unsafe {
                Dense::sgd_step_then_weighted_sums(
                    layer.transposed_block(p),
                    layer.biases.slice(p, 0, outputs),
                    prev.slice_ref(p, 0, inputs),
                    self.d[0].slice_ref(p, 0, outputs),
                    (lr, e.config.l2),
                    Some((s.x.slice_ref(p, 0, inputs), z.row_mut(0))),
                );
                f.forward(z.row(0), a.row_mut(0), outputs);
            },
            // SAFETY: the input was completed before the last wait; rows `cols` of W and
            // b are written only by this thread, in its update.
            None => unsafe {
                layer::forward(
                    self.input_of(l, s.x).read(p, n, inputs),
                    layer.rows_of_w(p, cols.clone()),
                    layer.biases.slice_ref(p, cols.start, cols.len()),
                    f,
                    z,
                    a.rb_mut(),
                    e.par,
                );
            },
        }
        if self.dropout {
            // (Drawn by the example's place in the global batch: one process's masks.)
            let key = rng::key(e.dropout_key, s.b as u64, l as u64);
            // SAFETY: columns `cols` of the mask and the dropped activations are this
            // thread's.
            let (mask, dropped) = unsafe {
                (
                    self.masks[l].cols_mut(p, n, outputs, cols.clone()),
                    self.dropped[l].cols_mut(p, n, outputs, cols.clone()),
                )
            };
            let at = (s.offset, cols.start, outputs);
            layer::dropout(a.as_ref(), mask, dropped, e.config.dropout, key, at);
        }
    }

    /// The output layer L, forward, by bands of examples: this thread's rows of zᴸ and
    /// aᴸ, their loss and δᴸ (softmax and the loss need whole rows), and with three
    /// layers or more δ of the layer below for the same rows. Returns the rows' loss.
    #[inline]
    fn forward_output(&self, p: &Phase, s: &Step<'_>) -> f64 {
        let (e, l, n) = (self.epoch, self.last, s.n);
        let layer = &self.layers[l];
        let (inputs, outputs, f) = (layer.inputs, layer.outputs, layer.activation);
        let mine = p.rows(n);
        // SAFETY: rows `mine` of z, a and δ of the output layer are this thread's; the
        // input (and y) were completed before the last wait; W of the output layer is
        // read by all and written by none until the backward pass.
        let loss = unsafe {
            layer::forward(
                self.input_of(l, s.x).rows(p, inputs, mine.clone()),
                layer.weights.read(p, outputs, inputs),
                layer.biases.slice_ref(p, 0, outputs),
                f,
                self.z[l].rows_mut(p, outputs, mine.clone()),
                self.a[l].rows_mut(p, outputs, mine.clone()),
                e.par,
            );
            let (start, len) = (mine.start * outputs, mine.len() * outputs);
            e.config.loss.sum_and_delta(
                f,
                self.z[l].slice_ref(p, start, len),
                self.a[l].slice_ref(p, start, len),
                self.y.slice_ref(p, start, len),
                self.d[l].slice(p, start, len),
                outputs,
                e.scale.unwrap_or(1.0 / s.total as f32),
            )
        };
        if self.down_by_examples {
            self.error_below_by_examples(p, mine);
        }
        loss
    }

    /// δ of the layer below the output for this thread's examples `mine`, right after
    /// their δᴸ: it needs only these rows of δᴸ, so it goes without a wait.
    #[inline]
    fn error_below_by_examples(&self, p: &Phase, mine: Range<usize>) {
        let (e, l) = (self.epoch, self.last);
        let layer = &self.layers[l];
        let (inputs, outputs) = (layer.inputs, layer.outputs);
        let below = self.layers[l - 1].activation;
        // SAFETY: rows `mine` of δ below are this thread's, and so are those of δᴸ, just
        // written; z, a and the masks of the layer below were completed before the last
        // wait; W is written only in the backward pass, after a wait.
        unsafe {
            let rows_of = |s: Shared| s.rows(p, inputs, mine.clone());
            let mut g = self.d[l - 1].rows_mut(p, inputs, mine.clone());
            let delta = self.d[l].rows(p, outputs, mine.clone());
            let w = layer.weights.read(p, outputs, inputs);
            layer::error_below(delta, w, g.rb_mut(), e.par);
            let mask = self.dropout.then(|| rows_of(self.masks[l - 1]));
            let (z, a) = (rows_of(self.z[l - 1]), rows_of(self.a[l - 1]));
            layer::delta_from_error(below, z, a, mask, g);
        }
    }

    /// Thread 0, after the forward pass: the batch's loss and outputs to `report`; the
    /// epoch stops after this step when it returns false.
    fn report(&self, p: &Phase, s: &Step<'_>, report: &mut dyn FnMut(StepOutcome<'_>) -> bool) {
        let loss = self
            .losses
            .iter()
            .map(|l| f64::from_bits(l.load(Ordering::Relaxed)))
            .sum();
        let width = self.layers[self.last].outputs;
        // SAFETY: the output layer's activations were completed before the last wait, and
        // no thread writes them in this phase.
        let outputs = unsafe { self.a[self.last].slice_ref(p, 0, s.n * width) };
        let outcome = StepOutcome {
            batch: s.b,
            rows: s.rows,
            loss,
            outputs,
            examples: s.n,
            correct: None,
            stop_agreed: false,
        };
        if !report(outcome) {
            self.stop.store(true, Ordering::Release);
        }
    }

    /// The backward pass, from the output layer down: each layer's weight gradients by
    /// bands of neurons, and δ of the layer below by its bands, then a wait, after which
    /// nobody reads the layer's weights in this step, and the update of this thread's
    /// neurons. The next batch is gathered before the last wait.
    #[inline]
    fn backward(&self, mut phase: Phase, s: &Step<'_>, lr: f32) -> Phase {
        let e = self.epoch;
        let update = !e.full_batch || s.b + 1 == self.steps;
        for l in (0..=self.last).rev() {
            let outputs = self.layers[l].outputs;
            // The output layer's bands are dealt from the last thread: with fewer than 16
            // outputs one thread computes all of ∂Wᴸ, and thread 0 already has the
            // report to make in this part of the step.
            let mine = match l == self.last {
                true => phase.band_from_last(outputs),
                false => phase.band(outputs),
            };
            let deferred = self.fused && l == 0;
            if !deferred {
                self.gradients(&phase, s, l, mine.clone());
            }
            let by_bands = l > 0 && !(l == self.last && self.down_by_examples);
            if by_bands {
                self.error_below(&phase, s, l);
            }
            if l == 1 && self.early_gather {
                if let Some(next) = self.batch(s.b + 1) {
                    // SAFETY: the next batch's buffer of x was last read by the previous
                    // step, which every thread finished before this step's first wait; y
                    // was last read by the output layer's forward pass, before a wait of
                    // this step.
                    unsafe { self.gather(&phase, s.b + 1, next) };
                }
            }
            if by_bands {
                phase = self.wait(phase);
            }
            if update && !deferred && e.workers.is_none() {
                // SAFETY: after the wait above (or, for the output layer when δ below
                // went by examples, the wait after the forward pass) no thread reads this
                // layer's weights again in this step; rows `mine` are this thread's.
                unsafe { self.update(&phase, &self.layers[l], mine, lr, s.step) };
            }
        }
        phase
    }

    /// ∂W and ∂b of layer l's neurons `rows` (this thread's band), from the layer's δ
    /// and input; added to the sums of a full batch's earlier chunks.
    #[inline]
    fn gradients(&self, p: &Phase, s: &Step<'_>, l: usize, rows: Range<usize>) {
        let (e, layer, n) = (self.epoch, &self.layers[l], s.n);
        let (inputs, outputs) = (layer.inputs, layer.outputs);
        let accumulate = e.full_batch && s.b > 0;
        // SAFETY: rows `rows` of this layer's gradients are this thread's; δ of this layer
        // and its input were completed before the last wait.
        unsafe {
            let delta = self.d[l].cols(p, n, outputs, rows.clone());
            let input = self.input_of(l, s.x).read(p, n, inputs);
            let gb = layer.grad_biases.slice(p, rows.start, rows.len());
            let gw = match layer.transposed {
                true => {
                    let (at, len) = (rows.start * inputs, rows.len() * inputs);
                    let gwt = layer.grad_weights.slice(p, at, len);
                    layer::WeightGrads::Transposed(MatMut::new(gwt, inputs, rows.len()))
                }
                false => layer::WeightGrads::Rows(layer.grad_weights.rows_mut(p, inputs, rows)),
            };
            layer::gradients(delta, input, gw, gb, accumulate, e.par);
        }
    }

    /// δ of the layer below layer l, by bands of its neurons: this thread's columns of
    /// δ·W, times f′ of the layer below (and its dropout mask).
    #[inline]
    fn error_below(&self, p: &Phase, s: &Step<'_>, l: usize) {
        let (e, layer, n) = (self.epoch, &self.layers[l], s.n);
        let (inputs, outputs) = (layer.inputs, layer.outputs);
        let cols = p.band(inputs);
        // SAFETY: columns `cols` of δ below are this thread's; δ of this layer and the z,
        // a and masks below were completed before the last wait; W is read here and
        // updated only after the next wait.
        unsafe {
            let mut g = self.d[l - 1].cols_mut(p, n, inputs, cols.clone());
            let w = layer.weights.cols(p, outputs, inputs, cols.clone());
            layer::error_below(self.d[l].read(p, n, outputs), w, g.rb_mut(), e.par);
            let band_of = |s: Shared| s.cols(p, n, inputs, cols.clone());
            let mask = self.dropout.then(|| band_of(self.masks[l - 1]));
            let below = self.layers[l - 1].activation;
            layer::delta_from_error(
                below,
                band_of(self.z[l - 1]),
                band_of(self.a[l - 1]),
                mask,
                g,
            );
        }
    }

    /// The optimiser's update of neurons `rows` of `layer`, from their gradients.
    ///
    /// # Safety
    /// No other thread may access these rows of W and b, their gradients or their
    /// optimiser state in this phase.
    unsafe fn update(&self, p: &Phase, layer: &LayerPtrs, rows: Range<usize>, lr: f32, step: u32) {
        let config = self.epoch.config;
        let part = |s: Option<Shared>, start, len| match s {
            // SAFETY: the caller's word.
            Some(s) => unsafe { s.slice(p, start, len) },
            None => &mut [],
        };
        let [wf, ws, bf, bs] = layer.state;
        // (Stored transposed or not, these neurons' weights are this one run.)
        let (start, len) = (rows.start * layer.inputs, rows.len() * layer.inputs);
        // SAFETY: the caller's word.
        let (w, gw) = unsafe {
            (
                layer.weights.slice(p, start, len),
                layer.grad_weights.slice_ref(p, start, len),
            )
        };
        let (wf, ws) = (part(wf, start, len), part(ws, start, len));
        update_part(&config.optimizer, w, gw, wf, ws, lr, config.l2, step);
        let (start, len) = (rows.start, rows.len());
        // SAFETY: the caller's word.
        let (b, gb) = unsafe {
            (
                layer.biases.slice(p, start, len),
                layer.grad_biases.slice_ref(p, start, len),
            )
        };
        let (bf, bs) = (part(bf, start, len), part(bs, start, len));
        update_part(&config.optimizer, b, gb, bf, bs, lr, 0.0, step);
    }

    /// What layer `l` reads: the batch, or the layer below's activations (after
    /// dropout when there is dropout).
    fn input_of(&self, l: usize, x: Shared) -> Shared {
        match l {
            0 => x,
            _ if self.dropout => self.dropped[l - 1],
            _ => self.a[l - 1],
        }
    }
}

/// Poisons the barrier when its thread unwinds, so the others do not wait forever.
struct PoisonOnUnwind<'a>(&'a SpinBarrier);

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_every_item_once() {
        for n in [1, 10, 15, 16, 17, 30, 256, 512, 1000] {
            for threads in 1..=5 {
                let mut next = 0;
                for t in 0..threads {
                    let b = band(n, threads, t);
                    assert_eq!(b.start, next.min(n));
                    next = b.end.max(next);
                    let r = row_band(n, threads, t);
                    assert!(r.end <= n);
                }
                assert_eq!(next, n, "n = {n}, threads = {threads}");
                let rows: usize = (0..threads).map(|t| row_band(n, threads, t).len()).sum();
                assert_eq!(rows, n);
            }
        }
    }
}

/// The protocol of an epoch, model-checked with loom (src/sync.rs says how to run it).
#[cfg(all(test, glassbox_loom))]
mod loom_tests {
    use super::*;
    use crate::data::synthetic;
    use crate::init::Init;
    use crate::loss::Loss;
    use crate::optim::{Adam, Optimizer};

    /// One epoch of a 2-17-2 network with dropout (2 layers; the hidden one has a band
    /// for each thread), 4 examples in 2 steps of 2, Adam (whose update writes its state
    /// too), trained with `threads` threads; returns every weight and bias.
    fn epoch(threads: usize) -> Vec<f32> {
        let data = synthetic::xor(4, 0.05, 7).unwrap();
        let mut network = Network::builder(2)
            .dense(17, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build(Init::Auto, 1)
            .unwrap();
        let config = TrainConfig {
            loss: Loss::CrossEntropy,
            optimizer: Optimizer::Adam(Adam::default()),
            dropout: 0.5,
            batch_size: 2,
            threads,
            ..TrainConfig::default()
        };
        let mut state = OptimizerState::new(&config.optimizer, network.layers());
        let mut buffers = Buffers::new(&network, &data, 2, config.dropout);
        let learning_rate = |_| 0.01;
        let e = Epoch {
            config: &config,
            data: &data,
            order: &[3, 0, 2, 1],
            batch: 2,
            threads,
            par: Parallelism::Sequential,
            online: false,
            full_batch: false,
            scale: None,
            learning_rate: &learning_rate,
            dropout_key: 5,
            workers: None,
        };
        let mut reports = 0;
        run_epoch(&mut buffers, &mut network, &mut state, &e, &mut |outcome| {
            assert!(outcome.loss.is_finite() && outcome.outputs.len() == 4);
            reports += 1;
            true
        });
        assert_eq!(reports, 2);
        let layers = network.layers();
        let parameters = layers
            .iter()
            .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()));
        parameters.copied().collect()
    }

    /// Two threads run the epoch under every interleaving loom allows (within its
    /// preemption bound). Every view a thread makes of the shared buffers reports the
    /// elements it reads or writes to loom, which fails the test where two threads touch
    /// an element, one of them writing, with no wait ordering the two; and each run
    /// must end with the weights of one thread.
    #[test]
    fn loom_epoch_two_threads_two_layers_dropout() {
        crate::sync::loom_model(|| {
            let one = epoch(1);
            let two = epoch(2);
            for (a, b) in one.iter().zip(&two) {
                assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} ≠ {b}");
            }
        });
    }
}
