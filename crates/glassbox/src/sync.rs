//! The hand-made synchronisation of glassbox's threads, in one place, and the atomics it
//! is built on — `std`'s, or `loom`'s when the crate is built for model checking.
//!
//! Two pieces wait by spinning, because the work between two waits is a few
//! microseconds and waking a sleeping thread costs as much: the helper pool of
//! [`crate::spin`] (one image through a big layer) and the [`SpinBarrier`] of the
//! neuron-split trainer ([`crate::train`]). Both are model-checked with
//! [loom](https://docs.rs/loom), which runs a test under every interleaving of its
//! threads that the memory model allows:
//!
//! ```text
//! RUSTFLAGS="--cfg glassbox_loom" cargo test -p glassbox --lib --release loom
//! ```
//!
//! Under that flag the atomics, threads and spin hints below are loom's; everything else
//! in the crate is unchanged, except that the trainer's views of its shared buffers
//! report their accesses to loom, which model-checks the protocol of an epoch too
//! (`train/step.rs`).

#[cfg(glassbox_loom)]
pub(crate) use loom::{
    hint,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
    sync::Arc,
    thread,
};
#[cfg(not(glassbox_loom))]
pub(crate) use std::{
    hint,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
    sync::Arc,
    thread,
};

/// How many times a waiting thread spins before it starts yielding its CPU.
#[cfg(not(glassbox_loom))]
const SPINS_BEFORE_YIELD: u32 = 1 << 12;
/// Under loom every wait yields at once: loom explores the interleavings, and a spin is
/// just a longer path to the same states.
#[cfg(glassbox_loom)]
const SPINS_BEFORE_YIELD: u32 = 0;

/// A barrier for a fixed number of threads that waits by spinning, then by yielding
/// the CPU: a training step waits several times in a few milliseconds, and waking a
/// sleeping thread takes tens of microseconds.
///
/// With more threads than CPUs, a spinning thread would keep the CPU from the thread it
/// waits for, so then every wait yields at once.
#[derive(Debug)]
pub(crate) struct SpinBarrier {
    threads: usize,
    spins: u32,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// A thread panicked: the others would wait forever, so they panic too.
    poisoned: AtomicBool,
}

impl SpinBarrier {
    /// A barrier for `threads` threads (at least 1).
    pub(crate) fn new(threads: usize) -> Self {
        let oversubscribed = threads > crate::threads::available();
        SpinBarrier {
            threads: threads.max(1),
            spins: if oversubscribed {
                0
            } else {
                SPINS_BEFORE_YIELD
            },
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Returns when all threads have called `wait`; everything each wrote before its
    /// call is then visible to all.
    ///
    /// The last thread to arrive resets the count and opens the barrier by bumping the
    /// generation (Release); the others wait until they see the bump (Acquire). The
    /// count's read-modify-writes are AcqRel, so the last thread has seen every other
    /// thread's writes before its Release, and the reset of the count is ordered before
    /// any thread can arrive at the next wait.
    ///
    /// # Panics
    /// When another thread panicked (see [`SpinBarrier::poison`]) while this one waits.
    pub(crate) fn wait(&self) {
        if self.threads == 1 {
            return; // alone: nobody to wait for, nothing to publish
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "another training thread panicked"
            );
            if spins < self.spins {
                spins += 1;
                hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
    }

    /// Makes every waiting (and later) `wait` panic: a thread that unwinds calls this,
    /// or the others would wait for it forever.
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
}

/// loom's explorer with a bound on preemptions (the standard way to keep a model with
/// waiting loops finite): every interleaving with at most this many forced switches.
#[cfg(all(test, glassbox_loom))]
pub(crate) fn loom_model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(test);
}

#[cfg(all(test, glassbox_loom))]
mod loom_tests {
    use super::*;

    /// Two threads pass three waits; each writes its own slot before a wait and reads
    /// the other slot after it. loom fails the test on any interleaving where a read
    /// does not see the write (loom's `UnsafeCell` tracks the accesses) or a wait never
    /// returns.
    #[test]
    fn loom_barrier_orders_writes_before_reads() {
        loom_model(|| {
            use loom::cell::UnsafeCell;
            const THREADS: usize = 2;
            struct Shared {
                barrier: SpinBarrier,
                slots: [UnsafeCell<usize>; THREADS],
            }
            // SAFETY (test): the barrier is what is being checked; loom reports a data
            // race on the cells if it fails to order them.
            unsafe impl Sync for Shared {}
            let shared = Arc::new(Shared {
                barrier: SpinBarrier::new(THREADS),
                slots: [0, 1].map(|_| UnsafeCell::new(0)),
            });
            let work = |shared: Arc<Shared>, t: usize| {
                // Round 1 writes, wait, reads, wait; round 2 writes (after the other
                // thread's reads of round 1: a race if the second wait fails), wait, reads.
                for round in 1..=2 {
                    // SAFETY: loom checks that no other thread accesses the cell now.
                    shared.slots[t].with_mut(|p| unsafe { *p = round * 10 + t });
                    shared.barrier.wait();
                    for (u, slot) in shared.slots.iter().enumerate() {
                        // SAFETY: as above: loom checks it.
                        let v = slot.with(|p| unsafe { *p });
                        assert_eq!(v, round * 10 + u);
                    }
                    if round == 1 {
                        shared.barrier.wait();
                    }
                }
            };
            let handles: Vec<_> = (1..THREADS)
                .map(|t| {
                    let shared = shared.clone();
                    thread::spawn(move || work(shared, t))
                })
                .collect();
            work(shared, 0);
            for h in handles {
                h.join().unwrap();
            }
        });
    }
}

#[cfg(all(test, not(glassbox_loom)))]
mod tests {
    use super::*;

    #[test]
    fn barrier_orders_rounds_for_many_threads() {
        // More threads than this machine's CPUs: the yielding path.
        for threads in [1, 2, 3, 4, 8] {
            let barrier = SpinBarrier::new(threads);
            let counter = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for round in 0..200 {
                            counter.fetch_add(1, Ordering::Relaxed);
                            barrier.wait();
                            // Everyone has added this round's 1 and nobody the next one's.
                            assert_eq!(counter.load(Ordering::Relaxed), (round + 1) * threads);
                            barrier.wait();
                        }
                    });
                }
            });
        }
    }
}
