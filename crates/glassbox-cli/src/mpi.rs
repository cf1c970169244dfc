//! `mpirun -np N glassbox train …`: one model trained data-parallel on Open MPI (the
//! `mpi` cargo feature).
//!
//! Every rank runs the same `train` command and holds the whole network; the library's
//! trainer gives each rank its share of every global batch and sums the gradients
//! through [`glassbox::train::AllReduce`], which [`World`] implements with one
//! `MPI_Allreduce` per step on one flat buffer. Rank 0 alone prints, evaluates and
//! writes the model, the checkpoints and the plots; a rank that fails ends the whole job
//! with `MPI_Abort`, so nothing waits for it.
//!
//! Without the feature, or started without `mpirun`, there is one rank: [`World::join`]
//! gives rank 0 of 1 and the binary is an ordinary process.

/// This process's place in the job: rank 0 of 1 for an ordinary process.
pub struct World {
    rank: usize,
    size: usize,
    #[cfg(feature = "mpi")]
    mpi: Option<imp::Mpi>,
}

impl World {
    /// Joins the MPI job this process was started in by `mpirun` (with the `mpi`
    /// feature), or stands alone.
    ///
    /// # Errors
    /// When `mpirun` started the process but MPI cannot be initialised.
    pub fn join() -> anyhow::Result<World> {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = imp::Mpi::join()? {
            let (rank, size) = (mpi.rank, mpi.size);
            return Ok(World {
                rank,
                size,
                mpi: Some(mpi),
            });
        }
        Ok(World {
            rank: 0,
            size: 1,
            #[cfg(feature = "mpi")]
            mpi: None,
        })
    }

    /// How many ranks the job has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether this process writes and prints (rank 0).
    pub fn leads(&self) -> bool {
        self.rank == 0
    }

    /// The gradient sum for the trainer, with more than one rank.
    pub fn workers(&self) -> Option<&dyn glassbox::train::AllReduce> {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            return (self.size > 1).then_some(mpi as &dyn glassbox::train::AllReduce);
        }
        None
    }

    /// With `GLASSBOX_MPI_TIMES` set, rank 0 prints the seconds its gradient sums took
    /// and their count (bench/RESULTS.md: the allreduce's share of a step).
    pub fn report_times(&self, training_seconds: f64) {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = self.mpi.as_ref().filter(|_| self.leads()) {
            if std::env::var_os("GLASSBOX_MPI_TIMES").is_some() {
                let (seconds, sums) = mpi.times();
                eprintln!(
                    "mpi: {sums} allreduces took {seconds:.3} s of {training_seconds:.3} s \
                     of training ({:.1}%)",
                    100.0 * seconds / training_seconds.max(1e-9)
                );
            }
        }
        let _ = training_seconds;
    }

    /// Ends the whole job after this rank failed with `err` (printed with the rank), so
    /// that no other rank waits for it; with one rank, hands the error back.
    pub fn fail(&self, err: anyhow::Error) -> anyhow::Error {
        #[cfg(feature = "mpi")]
        if let Some(mpi) = &self.mpi {
            if self.size > 1 {
                // A bad flag or file fails every rank alike: rank 0 says it and aborts
                // the job; the others give it a moment before saying theirs, so that an
                // error that is theirs alone (their data) is still said.
                if self.rank > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                eprintln!("error: rank {} of {}: {err:#}", self.rank, self.size);
                mpi.abort(i32::from(crate::error::exit_code(&err)));
            }
        }
        err
    }
}

#[cfg(feature = "mpi")]
mod imp {
    use anyhow::bail;
    use mpi::collective::SystemOperation;
    use mpi::environment::Universe;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator, CommunicatorCollectives};
    use mpi::Threading;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    /// The MPI job: the world communicator and a send buffer for the sums.
    pub(super) struct Mpi {
        pub(super) rank: usize,
        pub(super) size: usize,
        world: SimpleCommunicator,
        send: Mutex<Vec<f32>>,
        /// Nanoseconds spent in the sums, and their count.
        spent: AtomicU64,
        sums: AtomicU64,
        /// Finalises MPI when dropped: declared last, so dropped last.
        _universe: Universe,
    }

    // SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED (checked in `join`), which
    // allows MPI calls from any thread, one at a time; every call below is made under
    // the `send` lock (the sum) or by the one thread that owns the `World` (abort).
    unsafe impl Send for Mpi {}
    // SAFETY: as for `Send`.
    unsafe impl Sync for Mpi {}

    impl Mpi {
        /// Initialises MPI when `mpirun` started this process (Open MPI sets
        /// OMPI_COMM_WORLD_SIZE; other launchers PMI_SIZE or PMIX_RANK).
        pub(super) fn join() -> anyhow::Result<Option<Mpi>> {
            let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
                .iter()
                .any(|v| std::env::var_os(v).is_some());
            if !launched {
                return Ok(None);
            }
            // The trainer sums from one of its pool's threads, not the main thread.
            let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Serialized)
            else {
                bail!("mpirun started this process, but MPI could not be initialised");
            };
            if threading < Threading::Serialized {
                bail!(
                    "this MPI library offers thread level {threading:?}; glassbox needs \
                     Serialized (its trainer sums from a worker thread)"
                );
            }
            let world = universe.world();
            Ok(Some(Mpi {
                rank: usize::try_from(world.rank()).unwrap_or(0),
                size: usize::try_from(world.size()).unwrap_or(1),
                world,
                send: Mutex::new(Vec::new()),
                spent: AtomicU64::new(0),
                sums: AtomicU64::new(0),
                _universe: universe,
            }))
        }

        /// Seconds spent in the sums so far, and how many there were.
        pub(super) fn times(&self) -> (f64, u64) {
            let nanos = self.spent.load(Ordering::Relaxed);
            (nanos as f64 * 1e-9, self.sums.load(Ordering::Relaxed))
        }

        /// MPI_Abort of the whole job with `code`.
        pub(super) fn abort(&self, code: i32) -> ! {
            self.world.abort(code)
        }
    }

    impl glassbox::train::AllReduce for Mpi {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        /// One MPI_Allreduce (sum) of the whole buffer. Open MPI's default error
        /// handler aborts the job on a lost peer, and `mpirun` ends it when a rank dies,
        /// so an error rarely comes back here.
        fn sum(&self, buffer: &mut [f32]) -> Result<(), String> {
            let mut send = self
                .send
                .lock()
                .map_err(|_| "a training thread panicked".to_string())?;
            let started = Instant::now();
            send.clear();
            send.extend_from_slice(buffer);
            self.world
                .all_reduce_into(&send[..], buffer, SystemOperation::sum());
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.spent.fetch_add(nanos, Ordering::Relaxed);
            self.sums.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }
}
