"""Ctrl-C during fit: training stops at the next batch and the estimator stays usable."""

import os
import signal
import threading
import time
import warnings

import numpy as np

from glassbox import MLPClassifier


def test_keyboard_interrupt_stops_fit_and_leaves_a_usable_estimator(digits):
    X_train, X_test, y_train, y_test = digits
    X = np.tile(X_train, (20, 1))  # 27 000 rows: one epoch of batch 1 takes a while
    y = np.tile(y_train, 20)
    est = MLPClassifier((64,), solver="sgd", learning_rate_init=0.01, batch_size=1,
                        max_iter=1000, tol=0, random_state=0)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    elapsed = time.monotonic() - start
    timer.cancel()
    assert any("interrupted by user" in str(w.message) for w in caught)
    assert 0.9 < elapsed < 5, elapsed
    assert est.n_iter_ < 1000
    # The weights of the last finished epoch: it predicts.
    assert est.predict(X_test).shape == y_test.shape
    assert est.predict_proba(X_test).shape == (len(y_test), 10)


def test_the_interpreter_runs_while_fit_trains(digits):
    """The GIL is released while training: another Python thread makes progress."""
    X_train, _, y_train, _ = digits
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    start = time.monotonic()
    MLPClassifier((256,), max_iter=30, tol=0, random_state=0).fit(np.tile(X_train, (4, 1)), np.tile(y_train, 4))
    end = time.monotonic()
    stop.set()
    thread.join()
    during = [t for t in ticks if start < t < end]
    # A thread blocked on the GIL would tick every 5 ms switch interval at best, and not
    # at all while Rust held it; released, it ticks about every millisecond.
    assert len(during) > 0.3 * (end - start) / 0.001, (len(during), end - start)
