//! Helper threads that wait by spinning, for work too short to wake a sleeping thread.
//!
//! One image through a 784-512-256-10 network takes about 10 µs of arithmetic on each of
//! two cores, if each core streams half of the 2 MB of weights from its own cache. A
//! thread pool that sleeps between jobs (rayon) needs several microseconds to wake a
//! thread, as much as the work itself. The helpers here keep checking for work for
//! [`SPIN_FOR`] after their last job, so a steady caller — a service answering one
//! request after another, a benchmark loop — hands work over in well under a
//! microsecond; after that they sleep (and the next hand-over wakes them, slowly, once).
//!
//! The caller always takes share 0 and helper `i` share `i`, so each core keeps reading
//! the same part of the weights and keeps it in its cache.
//!
//! Only one caller uses the helpers at a time; another thread that finds them busy does
//! its work alone ([`run`] returns `false`).

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, TryLockError};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper keeps spinning after its last job before it sleeps.
pub const SPIN_FOR: Duration = Duration::from_millis(2);

/// A job: called once with each share index, on different threads.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Helpers {
    /// Bumped (by the caller holding `busy`) to hand out the job in `job`.
    generation: AtomicUsize,
    /// The current job, with its lifetime erased: valid while the caller waits in `run`.
    job: UnsafeCell<Option<Job<'static>>>,
    /// How many shares the current job has (helpers with a higher index skip it).
    shares: AtomicUsize,
    /// Helpers that finished the current job.
    done: AtomicUsize,
    /// Whether a helper panicked in the current job.
    panicked: AtomicBool,
    /// Per helper: whether it is (about to be) asleep and needs an unpark.
    sleeping: Vec<AtomicBool>,
    threads: Vec<Thread>,
    busy: Mutex<()>,
}

// SAFETY: `job` is written only by the thread holding `busy`, before it publishes the
// job with a Release increment of `generation`, and read by helpers only after an
// Acquire load that sees that increment; the caller clears it only after every helper
// has reported back through `done`.
unsafe impl Sync for Helpers {}

static HELPERS: OnceLock<Option<Helpers>> = OnceLock::new();

/// Starts (once) one helper per physical core beyond the first; `None` on a single core
/// or when the operating system refuses to start threads.
fn helpers() -> Option<&'static Helpers> {
    HELPERS
        .get_or_init(|| {
            let count = crate::tensor::physical_cores().saturating_sub(1);
            if count == 0 {
                return None;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            for index in 1..=count {
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name(format!("glassbox-spin-{index}"))
                    .spawn(move || {
                        let _ = tx.send(std::thread::current());
                        helper_loop(index);
                    })
                    .ok()?;
            }
            let threads = rx.iter().take(count).collect();
            Some(Helpers {
                generation: AtomicUsize::new(0),
                job: UnsafeCell::new(None),
                shares: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                panicked: AtomicBool::new(false),
                sleeping: (0..count).map(|_| AtomicBool::new(false)).collect(),
                threads,
                busy: Mutex::new(()),
            })
        })
        .as_ref()
}

/// How many threads [`run`] can use (the caller plus the helpers): the physical cores.
pub fn capacity() -> usize {
    helpers().map_or(1, |h| h.threads.len() + 1)
}

/// Runs `job(0)` here and `job(1)`, …, `job(shares − 1)` on helpers, and returns when all
/// are done. Returns `false` without running anything when the helpers are busy with
/// another caller's job or there are fewer than `shares − 1` of them.
///
/// # Panics
/// When `job` panicked on a helper (after every share has finished).
pub fn run(shares: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
    if shares <= 1 {
        job(0);
        return true;
    }
    let Some(h) = helpers() else {
        return false;
    };
    if shares > h.threads.len() + 1 {
        return false;
    }
    // A panic that reached an earlier caller poisons the lock; the helpers are fine.
    let _guard = match h.busy.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    let workers = shares - 1;
    h.done.store(0, Ordering::Relaxed);
    h.shares.store(shares, Ordering::Relaxed);
    h.panicked.store(false, Ordering::Relaxed);
    // SAFETY: we hold `busy`; helpers read `job` only after the increment below, and
    // we wait for all of them before clearing it, so the erased lifetime never outlives
    // the borrow.
    unsafe {
        *h.job.get() = Some(std::mem::transmute::<Job<'_>, Job<'static>>(job));
    }
    h.generation.fetch_add(1, Ordering::SeqCst);
    for (sleeping, thread) in h.sleeping.iter().zip(&h.threads) {
        if sleeping.load(Ordering::SeqCst) {
            thread.unpark();
        }
    }
    let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
    // Helpers beyond `workers` see the job too and skip it (their share is out of range);
    // all of them report, so the job is never cleared under one of them.
    while h.done.load(Ordering::Acquire) < h.threads.len() {
        std::hint::spin_loop();
    }
    // SAFETY: as above; every helper has finished with the job.
    unsafe {
        *h.job.get() = None;
    }
    if let Err(payload) = mine {
        std::panic::resume_unwind(payload);
    }
    assert!(
        !h.panicked.load(Ordering::Relaxed),
        "a glassbox helper thread panicked in a job of {workers} helper shares"
    );
    true
}

fn helper_loop(index: usize) {
    let h = loop {
        // The helpers are built after the threads start: wait for them.
        match HELPERS.get() {
            Some(Some(h)) => break h,
            Some(None) => return, // starting another helper failed: no pool
            None => {}
        }
        std::thread::sleep(Duration::from_micros(50));
    };
    // Jobs are numbered from 1: a helper that starts late still sees the first one.
    let mut seen = 0;
    loop {
        let mut since = Instant::now();
        let mut spins = 0u32;
        loop {
            let now = h.generation.load(Ordering::Acquire);
            if now != seen {
                seen = now;
                break;
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && since.elapsed() > SPIN_FOR {
                let flag = &h.sleeping[index - 1];
                flag.store(true, Ordering::SeqCst);
                // Either the caller's increment is visible here, or the caller sees the
                // flag and unparks us (an unpark before park makes park return at once).
                if h.generation.load(Ordering::SeqCst) == seen {
                    std::thread::park();
                }
                flag.store(false, Ordering::SeqCst);
                since = Instant::now();
            }
        }
        // SAFETY: see `Helpers`; the job stays set until this helper reports in `done`.
        let job = unsafe { *h.job.get() };
        if let (Some(job), true) = (job, index < h.shares.load(Ordering::Relaxed)) {
            if catch_unwind(AssertUnwindSafe(|| job(index))).is_err() {
                h.panicked.store(true, Ordering::Relaxed);
            }
        }
        h.done.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_share_runs_once_and_callers_take_turns() {
        let shares = capacity();
        // Several callers at once: each either gets the helpers or is told to work alone.
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let hits: Vec<AtomicU64> = (0..shares).map(|_| AtomicU64::new(0)).collect();
                        let job = |i: usize| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                        };
                        if run(shares, &job) {
                            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                        } else {
                            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 0));
                        }
                    }
                });
            }
        });
        assert!(!run(shares + 1, &|_| {}), "more shares than cores");
    }

    #[test]
    fn a_panic_in_a_share_reaches_the_caller_and_the_helpers_survive() {
        if capacity() < 2 {
            return; // one core: no helpers to test
        }
        let outcome = catch_unwind(|| {
            // Wait for the helpers to be free (another test may hold them).
            while !run(2, &|i| assert!(i != 1, "share 1 fails")) {
                std::thread::yield_now();
            }
        });
        assert!(outcome.is_err());
        let done = AtomicU64::new(0);
        while !run(2, &|_| {
            done.fetch_add(1, Ordering::Relaxed);
        }) {
            std::thread::yield_now();
        }
        assert_eq!(done.load(Ordering::Relaxed), 2);
    }
}
