//! Data-parallel training through the [`AllReduce`] hook, with workers that are threads
//! of this test summing through shared memory: N workers together must train the model
//! that one process trains with the same batch size (the `mpi` feature of the binary
//! puts MPI behind the same hook; crates/glassbox-cli/tests/mpi.rs runs it).

use glassbox::data::{synthetic, Dataset};
use glassbox::optim::{Adam, Momentum, Optimizer, Sgd};
use glassbox::train::{share_of_batch, AllReduce};
use glassbox::{Activation, Init, Loss, Network, TrainConfig, Trainer};
use std::sync::{Barrier, Mutex};

/// N threads summing buffers: each adds its buffer to a shared sum, waits, copies it.
struct Threads {
    size: usize,
    sum: Mutex<Vec<f32>>,
    barrier: Barrier,
}

struct Worker<'a> {
    rank: usize,
    all: &'a Threads,
}

impl AllReduce for Worker<'_> {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.all.size
    }
    fn sum(&self, buffer: &mut [f32]) -> Result<(), String> {
        {
            let mut sum = self.all.sum.lock().unwrap();
            if sum.len() != buffer.len() {
                *sum = vec![0.0; buffer.len()];
            }
            // Ranks add in rank order, so that the sum is the same for every worker.
            drop(sum);
            for r in 0..self.all.size {
                if r == self.rank {
                    let mut sum = self.all.sum.lock().unwrap();
                    sum.iter_mut().zip(&*buffer).for_each(|(s, b)| *s += b);
                }
                self.all.barrier.wait();
            }
        }
        buffer.copy_from_slice(&self.all.sum.lock().unwrap());
        self.all.barrier.wait();
        if self.rank == 0 {
            self.all.sum.lock().unwrap().clear();
        }
        self.all.barrier.wait();
        Ok(())
    }
}

fn network() -> Network {
    Network::builder(2)
        .dense(24, Activation::Tanh)
        .dense(20, Activation::Relu)
        .dense(2, Activation::Softmax)
        .build(Init::Xavier, 3)
        .unwrap()
}

fn config(optimizer: Optimizer, dropout: f32) -> TrainConfig {
    TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer,
        epochs: 2,
        batch_size: 10,
        dropout,
        seed: 11,
        ..TrainConfig::default()
    }
}

fn weights(network: &Network) -> Vec<f32> {
    network
        .layers()
        .iter()
        .flat_map(|l| l.weights().as_slice().iter().chain(l.biases()).copied())
        .collect()
}

/// Trains with `size` worker threads; returns every worker's weights and the loss
/// history of worker 0.
fn with_workers(config: &TrainConfig, data: &Dataset, size: usize) -> Vec<(Vec<f32>, Vec<f64>)> {
    let all = Threads {
        size,
        sum: Mutex::new(Vec::new()),
        barrier: Barrier::new(size),
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let (all, config) = (&all, config.clone());
                scope.spawn(move || {
                    let worker = Worker { rank, all };
                    let mut net = network();
                    let history = Trainer::new(config)
                        .workers(&worker)
                        .fit(&mut net, data)
                        .unwrap();
                    let losses = history.epochs.iter().map(|e| e.train_loss).collect();
                    (weights(&net), losses)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn two_and_three_workers_train_one_process_model() {
    // 73 examples in batches of 10: the last batch has 3, shared 2 + 1 or 1 + 1 + 1;
    // batches of 10 go 5 + 5 and 4 + 4 + 2 (uneven).
    let data = synthetic::spirals(73, 0.1, 5).unwrap();
    let optimizers: [Optimizer; 3] = [
        Sgd { learning_rate: 0.1 }.into(),
        Momentum {
            learning_rate: 0.05,
            momentum: 0.9,
        }
        .into(),
        Adam {
            learning_rate: 0.01,
            ..Adam::default()
        }
        .into(),
    ];
    for optimizer in optimizers {
        for dropout in [0.0, 0.3] {
            let config = config(optimizer, dropout);
            let mut one = network();
            let history = Trainer::new(config.clone()).fit(&mut one, &data).unwrap();
            let one = weights(&one);
            assert_ne!(one, weights(&network()), "training moved no weight");
            for size in [2, 3] {
                for (rank, (w, losses)) in with_workers(&config, &data, size).iter().enumerate() {
                    let worst = one
                        .iter()
                        .zip(w)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst <= 1e-4,
                        "{optimizer:?}, dropout {dropout}, {size} workers, rank {rank}: \
                         weights differ by {worst}"
                    );
                    for (a, b) in history.epochs.iter().zip(losses) {
                        assert!((a.train_loss - b).abs() <= 1e-4 * a.train_loss.max(1.0));
                    }
                }
            }
        }
    }
}

#[test]
fn online_learning_and_batches_smaller_than_the_workers_are_refused() {
    let data = synthetic::xor(20, 0.1, 1).unwrap();
    let all = Threads {
        size: 3,
        sum: Mutex::new(Vec::new()),
        barrier: Barrier::new(3),
    };
    let worker = Worker { rank: 0, all: &all };
    for (batch, expected) in [(1, "online learning"), (2, "at least 3")] {
        let config = TrainConfig {
            batch_size: batch,
            ..config(Sgd { learning_rate: 0.1 }.into(), 0.0)
        };
        let err = Trainer::new(config)
            .workers(&worker)
            .fit(&mut network(), &data)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn shares_cover_a_batch_in_order() {
    for n in 1..40 {
        for size in 1..6 {
            let mut next = 0;
            for rank in 0..size {
                let r = share_of_batch(n, size, rank);
                assert_eq!(r.start, next.min(n));
                next = r.end.max(next);
            }
            assert_eq!(next, n);
        }
    }
}

/// A worker whose peer is gone: the sum fails, training ends with that error, and the
/// network keeps the weights it had (no epoch finished).
#[test]
fn a_failed_sum_ends_training_with_its_error_and_the_old_weights() {
    struct Lost;
    impl AllReduce for Lost {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn sum(&self, _: &mut [f32]) -> Result<(), String> {
            Err("rank 1 is gone".into())
        }
    }
    let data = synthetic::xor(20, 0.1, 1).unwrap();
    let mut net = network();
    let before = weights(&net);
    let err = Trainer::new(config(Sgd { learning_rate: 0.1 }.into(), 0.0))
        .workers(&Lost)
        .fit(&mut net, &data)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rank 1 is gone") && err.contains("epoch 1"),
        "{err}"
    );
    assert_eq!(weights(&net), before);
}
