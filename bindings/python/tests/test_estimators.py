"""The estimators as scikit-learn users meet them: parameters, data, tools, the glass."""

import io
import pickle
import re
import xml.etree.ElementTree as ET

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import glassbox
from glassbox import MLPClassifier, MLPRegressor


def test_defaults_are_scikit_learns():
    ours, theirs = MLPClassifier().get_params(), SkMLPClassifier().get_params()
    for name, value in theirs.items():
        assert ours[name] == value, name
    assert {"loss", "dropout", "n_threads"} <= set(ours)


def test_learns_digits_and_reports_like_scikit_learn(digits):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier(hidden_layer_sizes=(64,), max_iter=40, random_state=0)
    est.fit(X_train, y_train)
    assert est.score(X_test, y_test) > 0.95
    assert est.n_iter_ == len(est.loss_curve_) <= 40
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None
    assert [c.shape for c in est.coefs_] == [(64, 64), (64, 10)]
    assert [b.shape for b in est.intercepts_] == [(64,), (10,)]
    assert est.n_layers_ == 3 and est.n_outputs_ == 10
    assert est.out_activation_ == "softmax"
    assert est.n_features_in_ == 64
    proba = est.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X_test))
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X_test)), proba, rtol=1e-6)


def test_same_seed_same_model_other_seed_other_model(digits):
    X_train, X_test, y_train, _ = digits
    fit = lambda seed: MLPClassifier((16,), max_iter=5, random_state=seed).fit(X_train, y_train)
    a, b, c = fit(3), fit(3), fit(4)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_string_labels_dataframes_lists_and_fortran_order(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    frame = pd.DataFrame(X_train, columns=[f"px{i}" for i in range(64)])
    est = MLPClassifier((32,), max_iter=30, random_state=0).fit(frame, names[y_train])
    assert list(est.classes_) == sorted(names)
    assert list(est.feature_names_in_) == list(frame.columns)
    predicted = est.predict(pd.DataFrame(X_test, columns=frame.columns))
    assert set(predicted) <= set(names)
    assert np.mean(predicted == names[y_test]) > 0.9
    # The same rows as a list, as float64 Fortran-ordered: the same predictions.
    est2 = MLPClassifier((32,), max_iter=30, random_state=0)
    est2.fit(np.asfortranarray(X_train, dtype=np.float64), names[y_train])
    np.testing.assert_array_equal(est2.predict(X_test.tolist()), est.predict(pd.DataFrame(X_test, columns=frame.columns)))


def test_regressor_one_and_two_targets():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(400, 3)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    est = MLPRegressor((32, 32), max_iter=300, learning_rate_init=0.01, random_state=0)
    est.fit(X, y)
    assert est.predict(X).shape == (400,)
    assert est.score(X, y) > 0.9
    assert est.out_activation_ == "identity" and est.n_outputs_ == 1
    Y = np.column_stack([y, -y])
    est2 = MLPRegressor((32, 32), max_iter=300, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert est2.predict(X).shape == (400, 2) and est2.score(X, Y) > 0.9


def test_early_stopping_keeps_the_best_validation_epoch(digits):
    X_train, _, y_train, _ = digits
    est = MLPClassifier((32,), max_iter=300, early_stopping=True, n_iter_no_change=3,
                        random_state=0).fit(X_train, y_train)
    assert est.n_iter_ < 300
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None
    # scikit-learn's rule: stop after more than n_iter_no_change epochs without beating
    # the best score by tol.
    best_at = int(np.argmax(est.validation_scores_))
    assert est.n_iter_ - 1 - best_at >= 3


def test_sgd_nesterov_momentum_and_rprop_learn(digits):
    X_train, X_test, y_train, y_test = digits
    for params in [dict(solver="sgd", learning_rate_init=0.1),
                   dict(solver="sgd", learning_rate_init=0.1, momentum=0.0),
                   dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False),
                   dict(solver="rprop", max_iter=100),
                   dict(loss="mse", activation="logistic", solver="sgd", learning_rate_init=0.5,
                        batch_size=1, max_iter=5),
                   dict(activation="leaky_relu", dropout=0.1),
                   dict(activation="tanh")]:
        est = MLPClassifier((32,), random_state=0, **{"max_iter": 60, **params})
        est.fit(X_train, y_train)
        assert est.score(X_test, y_test) > 0.85, params


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(learning_rate="adaptive"), "learning_rate='adaptive' is a scikit-learn setting glassbox does not have"),
        (dict(learning_rate="invscaling"), "glassbox does not have"),
        (dict(solver="lbfgs"), "glassbox has no 'lbfgs' solver"),
        (dict(solver="rprop", batch_size=32), "full-batch"),
        (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be > 0"),
        (dict(loss="hinge"), "loss"),
        (dict(dropout=1.0), "dropout"),
        (dict(n_threads=0), "n_threads"),
    ],
)
def test_settings_glassbox_does_not_have_are_refused_at_fit(digits, params, message):
    X_train, _, y_train, _ = digits
    est = MLPClassifier(**params)  # __init__ only stores them
    with pytest.raises(ValueError, match=re.escape(message)):
        est.fit(X_train, y_train)


@pytest.mark.parametrize(
    "X, y, message",
    [
        ([[0.0, np.nan], [1.0, 2.0]], [0, 1], "Input X contains NaN"),
        ([[0.0, np.inf], [1.0, 2.0]], [0, 1], "Input X contains infinity"),
        ([0.0, 1.0, 2.0], [0, 1, 0], "Expected 2D array, got 1D array"),
        (np.zeros((0, 3)), [], "0 sample(s)"),
        ([["a", "b"], ["c", "d"]], [0, 1], "could not convert"),
        ([[0.0, 1.0], [1.0, 2.0]], [0], "inconsistent numbers of samples"),
        ([[0.0, 1.0], [1.0, 2.0]], [1, 1], "at least 2 classes"),
        ([[0.0, 1.0], [1.0, 2.0]], None, "requires y to be passed"),
    ],
)
def test_bad_input_is_a_value_error_worded_as_scikit_learns(X, y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MLPClassifier(max_iter=2).fit(X, y)


def test_wrong_width_at_predict(digits):
    X_train, X_test, y_train, _ = digits
    est = MLPClassifier((8,), max_iter=2).fit(X_train, y_train)
    with pytest.raises(ValueError, match="X has 63 features, but MLPClassifier is expecting 64"):
        est.predict(X_test[:, :63])


def test_partial_fit_continues_one_optimisation(digits):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((32,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X_train[:10], y_train[:10])
    for epoch in range(15):
        est.partial_fit(X_train, y_train, classes=np.arange(10))
    assert est.n_iter_ == 15 and len(est.loss_curve_) == 15
    assert est.score(X_test, y_test) > 0.9
    # Fifteen calls of one epoch follow the curve of one fit of fifteen epochs (the
    # examples are shuffled differently, so not to the last bit).
    whole = MLPClassifier((32,), learning_rate_init=0.01, max_iter=15, random_state=0)
    whole.fit(X_train, y_train)
    np.testing.assert_allclose(est.loss_curve_, whole.loss_curve_, rtol=0.1)
    with pytest.raises(ValueError, match="has classes not in"):
        est.partial_fit(X_train[:5], np.full(5, 11))


def test_pickle_joblib_clone_pipeline_and_grid_search(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((16,), max_iter=20, random_state=0).fit(X_train, y_train)
    expected = est.predict_proba(X_test)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X_test), expected)
    joblib.dump(est, tmp_path / "est.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "est.joblib").predict_proba(X_test), expected)
    assert clone(est).get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=60, random_state=0))
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.85
    search = GridSearchCV(
        MLPClassifier(max_iter=15, random_state=0),
        {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1e-2]},
        cv=3,
        n_jobs=2,
    ).fit(X_train, y_train)
    serial = GridSearchCV(
        MLPClassifier(max_iter=15, random_state=0),
        {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1e-2]},
        cv=3,
        n_jobs=1,
    ).fit(X_train, y_train)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert search.best_params_["hidden_layer_sizes"] == (32,)


def test_explain_matches_a_float64_computation_from_coefs(digits):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((12, 8), activation="tanh", max_iter=5, random_state=0).fit(X_train, y_train)
    x, label = X_test[0].astype(np.float64), y_test[0]
    trace = est.explain(X_test[0], label)
    W = [w.astype(np.float64) for w in est.coefs_]
    b = [c.astype(np.float64) for c in est.intercepts_]
    # Forward: z = a·W + b, tanh on hidden layers, softmax at the output.
    a, zs, acts = x, [], []
    for l in range(3):
        z = a @ W[l] + b[l]
        a = np.tanh(z) if l < 2 else np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        zs.append(z)
        acts.append(a)
    y = np.eye(10)[list(est.classes_).index(label)]
    loss = -np.log(acts[-1][y.argmax()])
    # Backward: δᴸ = a − y with softmax and cross-entropy; δˡ = (δˡ⁺¹·Wˡ⁺¹ᵀ) ⊙ (1 − a²).
    deltas = [None] * 3
    deltas[2] = acts[2] - y
    for l in (1, 0):
        deltas[l] = (deltas[l + 1] @ W[l + 1].T) * (1 - acts[l] ** 2)
    inputs = [x, acts[0], acts[1]]
    assert trace["loss"] == pytest.approx(loss, rel=1e-4)
    for l, layer in enumerate(trace["layers"]):
        np.testing.assert_allclose(layer["z"], zs[l], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer["a"], acts[l], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer["delta"], deltas[l], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(layer["grad_weights"], np.outer(inputs[l], deltas[l]), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(layer["grad_biases"], deltas[l], rtol=1e-3, atol=1e-5)
        assert layer["grad_weights"].shape == est.coefs_[l].shape
    # The step shown is Adam's first (the estimator's solver): m̂ = g, v̂ = g², so each
    # weight moves by η·g/(|g| + ε) against its gradient.
    eta, eps = est.learning_rate_init, est.epsilon
    for l, layer in enumerate(trace["layers"]):
        g = layer["grad_weights"].astype(np.float64)
        expected = W[l] - eta * g / (np.abs(g) + eps)
        np.testing.assert_allclose(layer["new_weights"], expected, rtol=1e-4, atol=1e-6)
        gb = layer["grad_biases"].astype(np.float64)
        np.testing.assert_allclose(layer["new_biases"], b[l] - eta * gb / (np.abs(gb) + eps), rtol=1e-4, atol=1e-6)


def test_notebook_display_is_svg_without_javascript(digits):
    X_train, _, y_train, _ = digits
    est = MLPClassifier((20, 6), max_iter=3, random_state=0).fit(X_train, y_train)
    html = est._repr_html_()
    assert "<script" not in html.lower()
    svg = ET.fromstring(html[html.index("<svg"): html.rindex("</svg>") + 6])
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == ns + "svg"
    # 12 of 64 inputs shown, 12 of 20, 6, 10: circles, and links between them.
    assert len(svg.findall(f".//{ns}circle")) == 12 + 12 + 6 + 10
    assert len(svg.findall(f".//{ns}line")) == 12 * 12 + 12 * 6 + 6 * 10
    assert svg.find(f".//{ns}polyline") is not None  # the loss curve
    assert "+52 more" in html
    assert est._repr_mimebundle_()["text/html"] == html
    # Unfitted: scikit-learn's own diagram.
    assert "<svg" not in MLPClassifier()._repr_html_()


def test_verbose_prints_iterations_and_a_progress_bar(digits, capsys):
    X_train, _, y_train, _ = digits
    MLPClassifier((16,), max_iter=3, verbose=True, random_state=0).fit(X_train, y_train)
    out, err = capsys.readouterr()
    assert re.findall(r"Iteration (\d+), loss = [0-9.]+", out) == ["1", "2", "3"]
    assert "epoch" in err and "examples/s" in err


def test_float32_c_contiguous_input_is_not_copied():
    """fit's peak memory: about the data (which the engine reads in place) plus the
    model, far less than a second copy of the data."""
    import subprocess
    import sys

    code = r"""
import resource, numpy as np, glassbox
rows, width = 120_000, 784
X = np.random.RandomState(0).rand(rows, width).astype(np.float32)   # 376 MB
y = np.arange(rows) % 10
X.sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
glassbox.MLPClassifier((8,), max_iter=1, batch_size=256, random_state=0).fit(X, y)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024 / X.nbytes)
"""
    growth = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    # A copy of X would add 1.0 (float32) or more; validation, labels and the model add little.
    assert growth < 0.25, growth


def test_more_threads_than_cores_give_the_same_model(digits):
    """n_threads beyond this machine's 2 cores: the steps are shared out by bands of
    neurons on every thread, and the weights agree with one thread's to rounding."""
    X_train, X_test, y_train, _ = digits
    X = np.tile(X_train, (4, 1))
    y = np.tile(y_train, 4)
    fit = lambda n: MLPClassifier((512, 256), batch_size=128, max_iter=2, random_state=0,
                                  n_threads=n).fit(X, y)
    one, five = fit(1), fit(5)
    for a, b in zip(one.coefs_, five.coefs_):
        np.testing.assert_allclose(a, b, atol=2e-4)
    np.testing.assert_allclose(one.predict_proba(X_test), five.predict_proba(X_test), atol=2e-4)


def test_regressor_early_stopping_scores_r2_on_the_validation_set():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(600, 3)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    est = MLPRegressor((32,), max_iter=300, learning_rate_init=0.01, early_stopping=True,
                       n_iter_no_change=5, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_ < 300
    assert est.best_validation_score_ == max(est.validation_scores_)
    # The best epoch's weights are kept: its R² on the held-out tenth, recomputed here.
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    seeds = check_random_state(0)
    seeds.randint(np.iinfo(np.int32).max)  # the initial weights' seed
    _, X_val, _, y_val = train_test_split(X, y.astype(np.float32), test_size=0.1,
                                          random_state=int(seeds.randint(np.iinfo(np.int32).max)))
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_, abs=1e-5)
    assert est.best_validation_score_ > 0.8
