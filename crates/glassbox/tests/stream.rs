//! Training data left in its file (`idx::load_dir_streamed`, `data::stream`): the rows
//! read from disk are the rows a loaded data set holds, training on them gives the same
//! bits in the same order, a file that breaks during training is an error naming it,
//! and compressed files are refused with the way out.

use glassbox::data::{idx, Dataset, ImageShape};
use glassbox::rng::Rng;
use glassbox::train::Shuffle;
use glassbox::{Activation, Init, Network, TrainConfig, Trainer};

/// A train/test pair of random 6×5 grey images in 4 classes.
fn images(rows: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let pixels = (0..rows * 30).map(|_| rng.below(256) as u8).collect();
    let labels = (0..rows).map(|_| rng.below(4)).collect();
    let names = ["a", "b", "c", "d"].map(String::from).to_vec();
    Dataset::classification_pixels(pixels, 30, labels, names)
        .unwrap()
        .with_image_shape(ImageShape::new(6, 5, 1))
        .unwrap()
}

fn network() -> Network {
    Network::builder(30)
        .dense(16, Activation::Relu)
        .dense(4, Activation::Softmax)
        .build(Init::He, 2)
        .unwrap()
}

#[test]
fn streamed_rows_are_the_loaded_rows_and_train_to_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    idx::save_dir(&images(300, 1), &images(50, 2), dir.path(), false).unwrap();
    let (loaded, _) = idx::load_dir(dir.path()).unwrap();
    let (streamed, test) = idx::load_dir_streamed(dir.path()).unwrap();
    assert!(streamed.is_streamed() && !test.is_streamed() && !loaded.is_streamed());
    assert_eq!(streamed.len(), 300);
    assert_eq!(streamed.image_shape(), loaded.image_shape());
    assert_eq!(streamed.labels(), loaded.labels());
    for i in [0, 1, 150, 299] {
        assert_eq!(streamed.row(i), loaded.row(i), "row {i}");
    }
    assert_eq!(streamed.subset(&[7, 3]), loaded.subset(&[7, 3]));

    // In the data set's order, streamed and loaded rows train to the same weights, on
    // one thread and on three (which read rows concurrently).
    for threads in [1, 3] {
        let config = TrainConfig {
            epochs: 2,
            batch_size: 16,
            shuffle: Shuffle::Never,
            threads,
            ..TrainConfig::default()
        };
        let (mut a, mut b) = (network(), network());
        Trainer::new(config.clone()).fit(&mut a, &loaded).unwrap();
        Trainer::new(config).fit(&mut b, &streamed).unwrap();
        assert_eq!(a, b, "{threads} threads");
    }
    // Shuffled in blocks, it still learns: the test loss falls.
    let mut net = network();
    let before = glassbox::metrics::evaluate(&net, &test, glassbox::Loss::CrossEntropy)
        .unwrap()
        .loss;
    let config = TrainConfig {
        epochs: 5,
        batch_size: 8,
        ..TrainConfig::default()
    };
    let history = Trainer::new(config).fit(&mut net, &streamed).unwrap();
    let first = history.epochs[0].train_loss;
    let last = history.epochs.last().unwrap().train_loss;
    assert!(last < first, "train loss {first} → {last}");
    assert!(before.is_finite());
}

#[test]
fn a_file_cut_short_during_training_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    idx::save_dir(&images(200, 3), &images(20, 4), dir.path(), false).unwrap();
    let (streamed, _) = idx::load_dir_streamed(dir.path()).unwrap();
    let path = dir.path().join("train-images-idx3-ubyte");
    // Another program truncates the file after it was opened.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(16 + 100 * 30)
        .unwrap();
    let mut net = network();
    let start = net.clone();
    let err = Trainer::new(TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    })
    .fit(&mut net, &streamed)
    .unwrap_err()
    .to_string();
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    // The epoch that read zeros is rolled back.
    assert_eq!(net, start);
}

#[test]
fn compressed_or_short_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    idx::save_dir(&images(40, 5), &images(10, 6), dir.path(), true).unwrap();
    let err = idx::load_dir_streamed(dir.path()).unwrap_err().to_string();
    assert!(err.contains("gzip") && err.contains("gunzip"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    idx::save_dir(&images(40, 5), &images(10, 6), dir.path(), false).unwrap();
    let path = dir.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = idx::load_dir_streamed(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("expected"),
        "{err}"
    );
}
