//! Mini-batch training shared between cores by neurons.
//!
//! With T threads, thread t owns a band of neurons in every layer (a contiguous run of
//! rows of W, a multiple of 16 wide): it computes those neurons' weighted sums and
//! activations for the whole batch, their weight gradients, and their optimiser update.
//! The output layer, whose softmax needs whole rows, goes forward by bands of examples
//! instead. One step of a 784-512-256-10 network on 2 threads:
//!
//! ```text
//!            thread 0                         thread 1
//! gather     examples 0..64 → X               examples 64..128 → X
//!   ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ wait for each other ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! layer 1    Z¹[:, 0..256] = X·W¹[0..256]ᵀ    Z¹[:, 256..512] = X·W¹[256..512]ᵀ
//!   ─ ─ ─ wait (layer 2 reads all of A¹) ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! layer 2    Z²[:, 0..128]                    Z²[:, 128..256]
//!   ─ ─ ─ wait ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! output     examples 0..64: Z³, softmax, δ³  examples 64..128
//!   ─ ─ ─ wait (backward reads all of δ³) ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//! layer 3    ∂W³ rows 0..10, δ²[:, 0..128]     δ²[:, 128..256]
//!   ─ ─ ─ wait (δ² is whole; nobody reads W³ any more) ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//!            update W³ rows 0..10
//! layer 2    ∂W² rows 0..128, δ¹[:, 0..256]   ∂W² rows 128..256, δ¹[:, 256..512]
//!   ─ ─ ─ wait ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─
//!            update W² rows 0..128            update W² rows 128..256
//! layer 1    ∂W¹ rows 0..256, update them     ∂W¹ rows 256..512, update them
//! ```
//!
//! Against splitting the batch into halves that each go forward and back through the
//! whole network (data parallelism), each core reads only its own band of W¹ — 0.8 MB
//! that stays in its own cache instead of 1.6 MB packed by both — every weight
//! gradient is computed once for the whole batch, with 128 rows instead of 64, and no
//! two gradients are added. Every update is per weight, so the result is the same as
//! the one-thread step up to the order of additions inside the products.
//!
//! The threads share the batch's buffers and the network's weights through raw
//! pointers. Each writes only its own band (of columns, rows or examples), and the
//! waits above order every write before every read of it by another thread: that is
//! the whole safety argument of this file, and each `unsafe` block names its part.

use super::TrainConfig;
use crate::activation::Activation;
use crate::data::Dataset;
use crate::layer::DenseGrads;
use crate::network::Network;
use crate::optim::{update_part, OptimizerState};
use crate::rng::Rng;
use crate::sync::SpinBarrier;
use crate::tensor::{gemm_strided, Tensor};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Per thread and batch, at least this much work (batch rows × parameters ÷ threads)
/// before a step is split between threads: 2 Mi multiply-adds, e.g. batch 128 of
/// 784-512-256-10 (535 818 parameters), but not batch 32 of the 64-128-10 digits net.
pub const SPLIT_MIN_WORK: usize = 1 << 21;

/// Whether a network can be trained by neuron bands: every hidden activation must act
/// on each neuron alone (softmax mixes a whole row).
pub(super) fn can_split(network: &Network) -> bool {
    let layers = network.layers();
    layers[..layers.len() - 1]
        .iter()
        .all(|l| l.activation() != Activation::Softmax)
}

/// The batch's buffers, allocated once for the largest batch and shared by the threads.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    /// Two input buffers, used by turns, so the examples of the next step can be
    /// gathered while another thread still reads this step's.
    x: [Tensor; 2],
    y: Tensor,
    z: Vec<Tensor>,
    a: Vec<Tensor>,
    d: Vec<Tensor>,
    masks: Vec<Tensor>,
    dropped: Vec<Tensor>,
    grads: Vec<DenseGrads>,
}

impl Buffers {
    /// Buffers for batches of up to `batch` rows of `network` on `data`.
    pub(super) fn new(network: &Network, data: &Dataset, batch: usize, dropout: bool) -> Self {
        let layers = network.layers();
        let per_layer = || -> Vec<Tensor> {
            layers
                .iter()
                .map(|l| Tensor::zeros(batch, l.outputs()))
                .collect()
        };
        let hidden = if dropout { layers.len() - 1 } else { 0 };
        Buffers {
            x: [
                Tensor::zeros(batch, data.width()),
                Tensor::zeros(batch, data.width()),
            ],
            y: Tensor::zeros(batch, data.target_width()),
            z: per_layer(),
            a: per_layer(),
            d: per_layer(),
            masks: per_layer().into_iter().take(hidden).collect(),
            dropped: per_layer().into_iter().take(hidden).collect(),
            grads: layers.iter().map(DenseGrads::zeros_like).collect(),
        }
    }
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
}

/// One epoch: `order` in batches of `batch` examples, each step split between
/// `config.threads` threads (this one and idle threads of the current rayon pool).
/// `learning_rate(b)` is the rate of batch b. After each step's forward pass this
/// thread calls `after_forward`; when it returns false, the epoch ends after that step.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_epoch(
    buffers: &mut Buffers,
    network: &mut Network,
    state: &mut OptimizerState,
    config: &TrainConfig,
    data: &Dataset,
    order: &[usize],
    batch: usize,
    learning_rate: &(dyn Fn(usize) -> f32 + Sync),
    rng: &mut Rng,
    after_forward: &mut dyn FnMut(StepOutcome<'_>) -> bool,
) {
    // The helpers are jobs on the rayon pool the trainer runs in (`tensor::with_threads`
    // starts one of `config.threads` threads), whose other threads are idle here: the
    // threads already exist, and their memory is reused from epoch to epoch (starting
    // a thread per epoch instead kept 6 MB more resident). Never more helpers than the
    // pool has threads, or a helper would wait for a thread that is spinning at a barrier.
    let threads = config.threads.min(rayon::current_num_threads()).max(1);
    let steps = order.len().div_ceil(batch);
    let first_step = state.take_steps(steps as u32);
    // Each thread draws the dropout masks of its own neurons from a generator of its
    // own (seeded here, and only with dropout, so shuffling is unchanged without it).
    let seeds: Vec<u64> = (0..threads)
        .map(|_| {
            if config.dropout > 0.0 {
                rng.next_u64()
            } else {
                0
            }
        })
        .collect();
    let layers: Vec<LayerPtrs> = network
        .layers_mut()
        .iter_mut()
        .zip(state.buffers_mut())
        .zip(&mut buffers.grads)
        .map(|((layer, [wf, ws, bf, bs]), grads)| {
            let (inputs, outputs, activation) =
                (layer.inputs(), layer.outputs(), layer.activation());
            let (weights, biases) = layer.parameters_mut();
            LayerPtrs {
                inputs,
                outputs,
                activation,
                weights: Shared::of(weights),
                biases: Shared::of(biases),
                grad_weights: Shared::of(grads.weights.as_mut_slice()),
                grad_biases: Shared::of(&mut grads.biases),
                state: [wf, ws, bf, bs].map(|s| (!s.is_empty()).then(|| Shared::of(s))),
            }
        })
        .collect();
    let ctx = Context {
        config,
        data,
        order,
        batch,
        threads,
        first_step,
        learning_rate,
        layers,
        x: [
            Shared::of(buffers.x[0].as_mut_slice()),
            Shared::of(buffers.x[1].as_mut_slice()),
        ],
        y: Shared::of(buffers.y.as_mut_slice()),
        z: buffers
            .z
            .iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect(),
        a: buffers
            .a
            .iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect(),
        d: buffers
            .d
            .iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect(),
        masks: buffers
            .masks
            .iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect(),
        dropped: buffers
            .dropped
            .iter_mut()
            .map(|t| Shared::of(t.as_mut_slice()))
            .collect(),
        barrier: SpinBarrier::new(threads),
        stop: AtomicBool::new(false),
        losses: (0..threads).map(|_| AtomicU64::new(0)).collect(),
    };
    rayon::in_place_scope(|scope| {
        let ctx = &ctx;
        for (t, &seed) in seeds.iter().enumerate().skip(1) {
            scope.spawn(move |_| ctx.work(t, Rng::new(seed), None));
        }
        ctx.work(0, Rng::new(seeds[0]), Some(after_forward));
    });
}

/// A buffer that several threads read and write in disjoint parts: a pointer and the
/// buffer's length. Every access checks its range against the length, so the bounds
/// half of each `unsafe` block below is checked, and its argument is only about which
/// thread touches which part when.
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Shared` is only a pointer and a length; the module docs give the rule (own
// bands, ordered by the barrier) under which the threads use it.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn of(s: &mut [f32]) -> Self {
        Shared {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// A pointer to the `rows × cols` matrix at `offset` with rows `rs` and columns `cs`
    /// apart, after checking that all of it lies in the buffer.
    ///
    /// # Panics
    /// When part of the matrix lies outside the buffer.
    fn matrix(
        self,
        offset: usize,
        (rows, rs): (usize, usize),
        (cols, cs): (usize, usize),
    ) -> *mut f32 {
        if rows > 0 && cols > 0 {
            let last = offset + (rows - 1) * rs + (cols - 1) * cs;
            assert!(
                last < self.len,
                "matrix ends at {last}, buffer holds {}",
                self.len
            );
        }
        self.ptr.wrapping_add(offset)
    }

    /// Elements `start..start + len`, to write.
    ///
    /// # Safety
    /// While the slice lives, no other thread may access these elements.
    ///
    /// # Panics
    /// When the range is outside the buffer.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a mut [f32] {
        assert!(
            start + len <= self.len,
            "{start}+{len} outside {}",
            self.len
        );
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }

    /// Elements `start..start + len`, to read.
    ///
    /// # Safety
    /// While the slice lives, no thread may write these elements.
    ///
    /// # Panics
    /// When the range is outside the buffer.
    unsafe fn read<'a>(self, start: usize, len: usize) -> &'a [f32] {
        assert!(
            start + len <= self.len,
            "{start}+{len} outside {}",
            self.len
        );
        std::slice::from_raw_parts(self.ptr.add(start), len)
    }
}

/// One layer, as the threads see it.
struct LayerPtrs {
    inputs: usize,
    outputs: usize,
    activation: Activation,
    weights: Shared,
    biases: Shared,
    grad_weights: Shared,
    grad_biases: Shared,
    /// Optimiser state: weights' first and second, biases' first and second.
    state: [Option<Shared>; 4],
}

struct Context<'a> {
    config: &'a TrainConfig,
    data: &'a Dataset,
    order: &'a [usize],
    batch: usize,
    threads: usize,
    first_step: u32,
    learning_rate: &'a (dyn Fn(usize) -> f32 + Sync),
    layers: Vec<LayerPtrs>,
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

impl Context<'_> {
    fn work(
        &self,
        t: usize,
        mut rng: Rng,
        mut after_forward: Option<&mut dyn FnMut(StepOutcome<'_>) -> bool>,
    ) {
        let _poison = PoisonOnUnwind(&self.barrier);
        let config = self.config;
        let last = self.layers.len() - 1;
        let dropout = config.dropout > 0.0;
        let keep = 1.0 - config.dropout;
        for (b, rows) in self.order.chunks(self.batch).enumerate() {
            let n_rows = rows.len();
            let x = self.x[b % 2];
            let mine = row_band(n_rows, self.threads, t);
            // SAFETY (gather): thread t alone writes rows `mine` of x and y. The other
            // buffer of x is the one the previous step read, and every thread passed
            // this step's first wait only after finishing the previous step.
            unsafe {
                let (width, outputs) = (self.data.width(), self.data.target_width());
                for i in mine.clone() {
                    let r = rows[i];
                    x.slice(i * width, width).copy_from_slice(self.data.row(r));
                    self.data
                        .write_target_row(r, self.y.slice(i * outputs, outputs));
                }
            }
            self.barrier.wait();
            if self.stop.load(Ordering::Acquire) {
                break;
            }

            // Forward: hidden layers by bands of neurons, the output by bands of examples.
            for (l, layer) in self.layers.iter().enumerate() {
                let (inputs, outputs) = (layer.inputs, layer.outputs);
                let input = self.layer_input(l, x);
                if l < last {
                    let cols = band(outputs, self.threads, t);
                    let width = cols.len();
                    // SAFETY: columns `cols` of z, a, mask and dropped are this thread's;
                    // the input was completed before the last wait; rows `cols` of W are
                    // written only by this thread, in its update at the end of a step.
                    unsafe {
                        let bias = layer.biases.read(cols.start, width);
                        let z = self.z[l];
                        for i in 0..n_rows {
                            z.slice(i * outputs + cols.start, width)
                                .copy_from_slice(bias);
                        }
                        gemm_strided(
                            (n_rows, inputs, width),
                            (input.matrix(0, (n_rows, inputs), (inputs, 1)), inputs, 1),
                            (
                                layer.weights.matrix(
                                    cols.start * inputs,
                                    (inputs, 1),
                                    (width, inputs),
                                ),
                                1,
                                inputs,
                            ),
                            1.0,
                            (z.matrix(cols.start, (n_rows, outputs), (width, 1)), outputs),
                        );
                        for i in 0..n_rows {
                            let at = i * outputs + cols.start;
                            let zr = z.slice(at, width);
                            let ar = self.a[l].slice(at, width);
                            layer.activation.forward(zr, ar, width);
                            if dropout {
                                let m = self.masks[l].slice(at, width);
                                let dr = self.dropped[l].slice(at, width);
                                for ((m, d), &a) in m.iter_mut().zip(dr).zip(ar.iter()) {
                                    *m = if rng.next_f32() < keep {
                                        1.0 / keep
                                    } else {
                                        0.0
                                    };
                                    *d = a * *m;
                                }
                            }
                        }
                    }
                } else {
                    let width = outputs;
                    // SAFETY: rows `mine` of z, a and d of the output layer are this
                    // thread's; W of the output layer is read by all and written by
                    // none until the backward pass.
                    let loss = unsafe {
                        let (start, len) = (mine.start * width, mine.len() * width);
                        let z = self.z[l].slice(start, len);
                        let bias = layer.biases.read(0, width);
                        for zr in z.chunks_exact_mut(width) {
                            zr.copy_from_slice(bias);
                        }
                        gemm_strided(
                            (mine.len(), inputs, width),
                            (
                                input.matrix(
                                    mine.start * inputs,
                                    (mine.len(), inputs),
                                    (inputs, 1),
                                ),
                                inputs,
                                1,
                            ),
                            (
                                layer.weights.matrix(0, (inputs, 1), (width, inputs)),
                                1,
                                inputs,
                            ),
                            1.0,
                            (z.as_mut_ptr(), width),
                        );
                        let a = self.a[l].slice(start, len);
                        layer.activation.forward(z, a, width);
                        let y = self.y.read(start, len);
                        let d = self.d[l].slice(start, len);
                        let loss = config.loss.sum(z, a, y, width);
                        config.loss.output_delta(
                            layer.activation,
                            z,
                            a,
                            y,
                            d,
                            width,
                            1.0 / n_rows as f32,
                        );
                        loss
                    };
                    self.losses[t].store(loss.to_bits(), Ordering::Relaxed);
                }
                self.barrier.wait();
            }
            if let Some(report) = after_forward.as_deref_mut() {
                let loss = self
                    .losses
                    .iter()
                    .map(|l| f64::from_bits(l.load(Ordering::Relaxed)))
                    .sum();
                let width = self.layers[last].outputs;
                // SAFETY: the output layer's activations were completed before the last
                // wait, and no thread writes them before the next step's first wait,
                // which this thread reaches only after `report` returns.
                let outputs = unsafe { self.a[last].read(0, n_rows * width) };
                let go_on = report(StepOutcome {
                    batch: b,
                    rows,
                    loss,
                    outputs,
                });
                if !go_on {
                    self.stop.store(true, Ordering::Release);
                }
            }

            // Backward, from the output layer down: weight gradients by bands of
            // neurons, and each layer's δ by the bands of the layer below.
            let step = self.first_step + b as u32;
            let lr = (self.learning_rate)(b);
            for (l, layer) in self.layers.iter().enumerate().rev() {
                let (inputs, outputs) = (layer.inputs, layer.outputs);
                let input = self.layer_input(l, x);
                let rows_w = band(outputs, self.threads, t);
                let d = self.d[l];
                // SAFETY: rows `rows_w` of this layer's gradients are this thread's; δ
                // of this layer and its input were completed before the last wait.
                unsafe {
                    gemm_strided(
                        (rows_w.len(), n_rows, inputs),
                        (
                            d.matrix(rows_w.start, (rows_w.len(), 1), (n_rows, outputs)),
                            1,
                            outputs,
                        ),
                        (input.matrix(0, (n_rows, inputs), (inputs, 1)), inputs, 1),
                        0.0,
                        (
                            layer.grad_weights.matrix(
                                rows_w.start * inputs,
                                (rows_w.len(), inputs),
                                (inputs, 1),
                            ),
                            inputs,
                        ),
                    );
                    let gb = layer.grad_biases.slice(rows_w.start, rows_w.len());
                    gb.fill(0.0);
                    for i in 0..n_rows {
                        let dr = d.read(i * outputs + rows_w.start, rows_w.len());
                        for (g, &v) in gb.iter_mut().zip(dr.iter()) {
                            *g += v;
                        }
                    }
                }
                if l > 0 {
                    let below = &self.layers[l - 1];
                    let cols = band(inputs, self.threads, t);
                    let width = cols.len();
                    // SAFETY: columns `cols` of δ below are this thread's; all of W is
                    // read here and updated only after the next wait.
                    unsafe {
                        let db = self.d[l - 1];
                        gemm_strided(
                            (n_rows, outputs, width),
                            (d.matrix(0, (n_rows, outputs), (outputs, 1)), outputs, 1),
                            (
                                layer
                                    .weights
                                    .matrix(cols.start, (outputs, inputs), (width, 1)),
                                inputs,
                                1,
                            ),
                            0.0,
                            (db.matrix(cols.start, (n_rows, inputs), (width, 1)), inputs),
                        );
                        for i in 0..n_rows {
                            let at = i * inputs + cols.start;
                            let g = db.slice(at, width);
                            if dropout {
                                for (g, &m) in g.iter_mut().zip(self.masks[l - 1].read(at, width)) {
                                    *g *= m;
                                }
                            }
                            below.activation.backward(
                                self.z[l - 1].read(at, width),
                                self.a[l - 1].read(at, width),
                                g,
                                width,
                            );
                        }
                    }
                    self.barrier.wait();
                }
                // SAFETY: rows `rows_w` of W and b, their gradients and their optimiser
                // state are this thread's, and after the wait above no thread reads
                // this layer's weights again in this step.
                unsafe {
                    let (start, len) = (rows_w.start * inputs, rows_w.len() * inputs);
                    let part = |s: Option<Shared>, start, len| match s {
                        Some(s) => s.slice(start, len),
                        None => &mut [],
                    };
                    let [wf, ws, bf, bs] = layer.state;
                    update_part(
                        &config.optimizer,
                        layer.weights.slice(start, len),
                        layer.grad_weights.read(start, len),
                        part(wf, start, len),
                        part(ws, start, len),
                        lr,
                        config.l2,
                        step,
                    );
                    let (start, len) = (rows_w.start, rows_w.len());
                    update_part(
                        &config.optimizer,
                        layer.biases.slice(start, len),
                        layer.grad_biases.read(start, len),
                        part(bf, start, len),
                        part(bs, start, len),
                        lr,
                        0.0,
                        step,
                    );
                }
            }
        }
    }

    /// What layer `l` reads: the batch, or the layer below's activations (after
    /// dropout when there is dropout).
    fn layer_input(&self, l: usize, x: Shared) -> Shared {
        match l {
            0 => x,
            _ if self.config.dropout > 0.0 => self.dropped[l - 1],
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
