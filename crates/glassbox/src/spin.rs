//! Helper threads that wait by spinning, for work too short to wake a sleeping thread.
//!
//! One image through a 784-512-256-10 network is microseconds of arithmetic on each
//! core, if each core streams its part of the 2 MB of weights from its own cache. A
//! thread pool that sleeps between jobs (rayon) needs about as long to wake a thread
//! as the work itself. The helpers here keep checking for work for
//! [`SPIN_FOR`] after their last job, so a steady caller — a service answering one
//! request after another, a benchmark loop — hands work over in well under a
//! microsecond; after that they park (and the next hand-over wakes them, slowly, once).
//!
//! The caller always takes share 0 and helper `i` share `i`, so each core keeps reading
//! the same part of the weights and keeps it in its cache.
//!
//! Only one caller uses a pool at a time; another thread that finds it busy does its
//! work alone ([`Pool::run`] returns `false`). The process has one pool, [`global`],
//! with a helper per core beyond the first ([`crate::threads::available`]).
//!
//! ## The hand-over
//!
//! Each helper has a mailbox, one atomic word: the number of the last job posted to it,
//! and a flag that says it is parked.
//!
//! ```text
//! caller                                   helper i (1 ≤ i < shares)
//! job ← &job, done ← 0                     spin on its mailbox …
//! mailbox[i].swap(next job number) ──→     sees the new number (Acquire):
//!   if the old word had PARKED: unpark i   runs job(i), done += 1 (Release)
//! runs job(0)                              back to spinning; after SPIN_FOR:
//! waits until done = shares − 1 (Acquire)    mailbox[i].compare_exchange(n, n | PARKED)
//! job ← null                                 and, if that worked, park until it changes
//! ```
//!
//! The caller's swap and the helper's compare-exchange are read-modify-writes of the
//! same word, so one of them comes first and sees the other: either the helper's
//! exchange fails because a job was posted (it runs the job), or the caller's swap
//! returns the PARKED flag (it unparks the helper, and an unpark before the park makes
//! the park return at once). Only the helpers that have a share of a job get it in their
//! mailbox; the others never look at the job. The model checks in this file run these
//! steps under loom.

use crate::sync::{hint, thread, Arc, AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// How long a helper keeps spinning after its last job before it parks.
#[cfg_attr(glassbox_loom, allow(dead_code))]
pub const SPIN_FOR: std::time::Duration = std::time::Duration::from_millis(2);

/// A job: called once with each share index, on different threads.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// The flags of a mailbox word; the job number is the word shifted right by 2.
const PARKED: usize = 1;
const EXIT: usize = 2;

/// One helper's mailbox, on a cache line of its own (the helper spins on it).
#[repr(align(128))]
struct Mailbox(AtomicUsize);

/// What the caller and the helpers share.
struct Shared {
    /// Per helper (index − 1): the last job posted to it, and whether it is parked.
    mailboxes: Vec<Mailbox>,
    /// The current job: a pointer to the caller's `Job` reference, valid from the post
    /// that announces it until every helper of that job has reported in `done`.
    job: AtomicPtr<Job<'static>>,
    /// Helpers that finished the current job.
    done: AtomicUsize,
    /// Whether a helper panicked in the current job.
    panicked: AtomicBool,
}

/// A set of spinning helper threads; dropping it stops and joins them.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    /// The number of the last job posted (changed only by the caller holding `busy`).
    jobs: AtomicUsize,
    /// Helper `i`'s thread is `helpers[i − 1]`, in index order.
    helpers: Vec<thread::JoinHandle<()>>,
    /// Held by the one caller using the helpers.
    busy: AtomicBool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("helpers", &self.helpers.len())
            .finish()
    }
}

impl Pool {
    /// A pool of `helpers` helper threads (so `helpers + 1` shares with the caller).
    /// Fewer when the operating system refuses to start more.
    pub(crate) fn new(helpers: usize) -> Pool {
        let shared = Arc::new(Shared {
            mailboxes: (0..helpers).map(|_| Mailbox(AtomicUsize::new(0))).collect(),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        });
        let mut handles = Vec::with_capacity(helpers);
        for index in 1..=helpers {
            let shared = shared.clone();
            match spawn_helper(index, shared) {
                Some(handle) => handles.push(handle),
                None => break,
            }
        }
        Pool {
            shared,
            jobs: AtomicUsize::new(0),
            helpers: handles,
            busy: AtomicBool::new(false),
        }
    }

    /// How many shares [`Pool::run`] can run at once (the caller plus the helpers).
    pub(crate) fn capacity(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `job(0)` here and `job(1)`, …, `job(shares − 1)` on helpers, and returns when
    /// all are done. Returns `false` without running anything when another caller is
    /// using the helpers or there are fewer than `shares − 1` of them.
    ///
    /// # Panics
    /// When `job` panicked, here or on a helper (after every share has finished).
    pub(crate) fn run(&self, shares: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
        if shares <= 1 {
            job(0);
            return true;
        }
        if shares > self.capacity() || forked() {
            return false;
        }
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // Frees the pool when this function returns or unwinds.
        struct Release<'a>(&'a AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _release = Release(&self.busy);

        let h = &*self.shared;
        let workers = shares - 1;
        h.done.store(0, Ordering::Relaxed);
        h.panicked.store(false, Ordering::Relaxed);
        // The helpers reach `job` through this pointer to a local of this frame; it is
        // published by the posts below (Release) and cleared only after every helper of
        // this job has reported that it is done with it.
        let job: Job<'_> = job;
        let job_ptr = (&job as *const Job<'_>).cast::<Job<'static>>().cast_mut();
        h.job.store(job_ptr, Ordering::Relaxed);
        let number = self.jobs.load(Ordering::Relaxed).wrapping_add(1) & (usize::MAX >> 2);
        self.jobs.store(number, Ordering::Relaxed);
        for (mailbox, helper) in h.mailboxes.iter().zip(&self.helpers).take(workers) {
            if mailbox.0.swap(number << 2, Ordering::AcqRel) & PARKED != 0 {
                helper.thread().unpark();
            }
        }
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        while h.done.load(Ordering::Acquire) < workers {
            hint::spin_loop();
            #[cfg(glassbox_loom)]
            thread::yield_now();
        }
        h.job.store(std::ptr::null_mut(), Ordering::Relaxed);
        if let Err(payload) = mine {
            std::panic::resume_unwind(payload);
        }
        assert!(
            !h.panicked.load(Ordering::Relaxed),
            "a glassbox helper thread panicked in a job of {workers} helper shares"
        );
        true
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for (mailbox, helper) in self.shared.mailboxes.iter().zip(self.helpers.drain(..)) {
            if mailbox.0.swap(EXIT, Ordering::AcqRel) & PARKED != 0 {
                helper.thread().unpark();
            }
            let _ = helper.join();
        }
    }
}

#[cfg(not(glassbox_loom))]
fn spawn_helper(index: usize, shared: Arc<Shared>) -> Option<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("glassbox-spin-{index}"))
        .spawn(move || helper_loop(index, &shared))
        .ok()
}

#[cfg(glassbox_loom)]
fn spawn_helper(index: usize, shared: Arc<Shared>) -> Option<thread::JoinHandle<()>> {
    Some(thread::spawn(move || helper_loop(index, &shared)))
}

/// Decides when a waiting helper stops spinning and parks: after [`SPIN_FOR`] without
/// work (under loom, at once, so that the model explores the park and unpark).
struct Patience {
    #[cfg(not(glassbox_loom))]
    since: std::time::Instant,
    #[cfg(not(glassbox_loom))]
    spins: u32,
}

impl Patience {
    fn new() -> Self {
        Patience {
            #[cfg(not(glassbox_loom))]
            since: std::time::Instant::now(),
            #[cfg(not(glassbox_loom))]
            spins: 0,
        }
    }

    #[cfg(not(glassbox_loom))]
    fn exhausted(&mut self) -> bool {
        self.spins = self.spins.wrapping_add(1);
        self.spins.is_multiple_of(1024) && self.since.elapsed() > SPIN_FOR
    }

    #[cfg(glassbox_loom)]
    fn exhausted(&mut self) -> bool {
        true
    }
}

fn helper_loop(index: usize, h: &Shared) {
    let mailbox = &h.mailboxes[index - 1].0;
    let mut seen = 0; // job 0 is the pool's start: jobs are numbered from 1
    loop {
        let mut patience = Patience::new();
        let posted = loop {
            let word = mailbox.load(Ordering::Acquire);
            if word != seen {
                break word;
            }
            hint::spin_loop();
            if patience.exhausted() {
                // Park only if nothing was posted meanwhile; a post after this exchange
                // sees PARKED and unparks us.
                if mailbox
                    .compare_exchange(seen, seen | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    while mailbox.load(Ordering::Acquire) == seen | PARKED {
                        thread::park();
                    }
                }
                patience = Patience::new();
            }
        };
        if posted & EXIT != 0 {
            return;
        }
        seen = posted;
        // SAFETY: a job number in this helper's mailbox means the caller gave it a share
        // of a job, published `job` before posting (the Acquire load above sees that
        // store), and keeps the `Job` it points to alive, and the pointer unchanged,
        // until this helper's increment of `done` below.
        let job: Job<'_> = unsafe { *h.job.load(Ordering::Relaxed) };
        if catch_unwind(AssertUnwindSafe(|| job(index))).is_err() {
            h.panicked.store(true, Ordering::Relaxed);
        }
        h.done.fetch_add(1, Ordering::Release);
    }
}

/// Set in a child process made by `fork` after the pool started: the child has none of
/// the parent's helper threads (only the forking thread survives a fork), so a job
/// posted to them would wait for ever. The child's callers do their work alone instead
/// ([`Pool::run`] returns `false`). Python's `multiprocessing` forks this way.
static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process is a `fork` of one whose pool had started.
fn forked() -> bool {
    FORKED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs in the child of every `fork` (registered with `pthread_atfork`).
#[cfg(all(unix, not(glassbox_loom)))]
extern "C" fn after_fork_in_child() {
    FORKED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The process's pool: one helper per core beyond the first
/// ([`crate::threads::available`]), started on first use.
#[cfg(not(glassbox_loom))]
pub(crate) fn global() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        // SAFETY: registers a handler that only stores to an atomic, which is
        // async-signal-safe as a fork's child handler must be; it is registered once.
        #[cfg(unix)]
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
        Pool::new(crate::threads::available() - 1)
    })
}

#[cfg(all(test, glassbox_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;

    /// Two helpers, two jobs back to back (the second with fewer shares), then the
    /// pool is dropped: under every interleaving each share runs exactly once per job,
    /// no helper is left parked (loom reports a deadlock), and the drop joins them all.
    #[test]
    fn loom_every_share_runs_once_and_no_helper_is_lost() {
        crate::sync::loom_model(|| {
            let pool = Pool::new(2);
            let hits: [AtomicUsize; 3] = [0, 1, 2].map(|_| AtomicUsize::new(0));
            let job = |i: usize| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            };
            assert!(pool.run(3, &job));
            for h in &hits {
                assert_eq!(h.load(Ordering::Relaxed), 1);
            }
            assert!(pool.run(2, &job));
            assert_eq!(hits[0].load(Ordering::Relaxed), 2);
            assert_eq!(hits[1].load(Ordering::Relaxed), 2);
            assert_eq!(hits[2].load(Ordering::Relaxed), 1);
            drop(pool);
        });
    }

    /// One helper, two jobs: the helper parks between them in some interleavings, and
    /// the caller must wake it each time.
    #[test]
    fn loom_a_parked_helper_is_always_woken() {
        crate::sync::loom_model(|| {
            let pool = Pool::new(1);
            let hits = AtomicUsize::new(0);
            for round in 1..=2 {
                assert!(pool.run(2, &|_| {
                    hits.fetch_add(1, Ordering::Relaxed);
                }));
                assert_eq!(hits.load(Ordering::Relaxed), 2 * round);
            }
        });
    }
}

#[cfg(all(test, not(glassbox_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    fn check_every_share_once(pool: &Pool, shares: usize) {
        let hits: Vec<AtomicU64> = (0..shares).map(|_| AtomicU64::new(0)).collect();
        let job = |i: usize| {
            hits[i].fetch_add(1, Ordering::Relaxed);
        };
        if pool.run(shares, &job) {
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        } else {
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 0));
        }
    }

    #[test]
    fn every_share_runs_once_on_pools_of_1_to_8_threads() {
        for threads in [1, 2, 3, 4, 8] {
            let pool = Pool::new(threads - 1);
            assert_eq!(pool.capacity(), threads);
            for round in 0..300 {
                // Every share count up to the pool's, in turn.
                check_every_share_once(&pool, 1 + round % threads);
            }
            assert!(!pool.run(threads + 1, &|_| {}), "more shares than threads");
        }
    }

    /// The defect of issue 9: with several helpers, a caller that pauses long enough
    /// for the helpers to park must still wake each of them (it woke the wrong ones).
    #[test]
    fn parked_helpers_are_woken_by_their_own_index() {
        for threads in [3, 4, 8] {
            let pool = Pool::new(threads - 1);
            for _ in 0..4 {
                std::thread::sleep(SPIN_FOR + Duration::from_millis(3));
                check_every_share_once(&pool, threads);
            }
        }
    }

    #[test]
    fn callers_take_turns() {
        let pool = Pool::new(3);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        check_every_share_once(&pool, 4);
                    }
                });
            }
        });
    }

    #[test]
    fn a_panic_in_a_share_reaches_the_caller_and_the_helpers_survive() {
        let pool = Pool::new(2);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pool.run(3, &|i| assert!(i != 2, "share 2 fails"));
        }));
        assert!(outcome.is_err());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pool.run(3, &|i| assert!(i != 0, "share 0 fails"));
        }));
        assert!(outcome.is_err());
        check_every_share_once(&pool, 3);
        let done = AtomicU64::new(0);
        assert!(pool.run(3, &|_| {
            done.fetch_add(1, Ordering::Relaxed);
        }));
        assert_eq!(done.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn the_process_pool_has_one_share_per_available_thread() {
        assert_eq!(global().capacity(), crate::threads::available());
    }
}
