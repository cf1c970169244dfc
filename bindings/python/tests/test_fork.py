"""A process forked after glassbox ran (multiprocessing's default start method on
Linux) trains and predicts: it does not wait on helper threads it does not have."""

import multiprocessing
import warnings

import numpy as np

from glassbox import MLPClassifier

RNG = np.random.RandomState(0)
X = RNG.rand(300, 784).astype(np.float32)
Y = np.arange(300) % 10


def fit_and_predict():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Batch 1 through a 784-512 layer: one-row products shared by the spin helpers.
        est = MLPClassifier((512,), batch_size=1, max_iter=1, random_state=0).fit(X, Y)
    return est.predict_proba(np.tile(X, (10, 1)))


def child(queue):
    queue.put(fit_and_predict().shape)


def test_a_forked_child_trains_and_predicts():
    expected = fit_and_predict()  # the parent's helper threads and pools have started
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    process.join(60)
    hung = process.is_alive()
    if hung:
        process.kill()
    assert not hung, "the forked child hung"
    assert process.exitcode == 0
    assert queue.get(timeout=5) == expected.shape
