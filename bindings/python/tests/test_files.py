"""One model file for the CLI, the library and Python; the ONNX export."""

import json
import subprocess

import numpy as np
import pytest

import glassbox
from glassbox import MLPClassifier, MLPRegressor


def write_csv(path, X, y):
    header = ",".join([f"px{i}" for i in range(X.shape[1])] + ["label"])
    rows = np.column_stack([X, y])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.9g")


def test_a_python_model_is_evaluated_by_the_cli(digits, cli, tmp_path):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((32,), max_iter=30, random_state=0).fit(X_train, y_train)
    est.save(tmp_path / "py.safetensors")
    write_csv(tmp_path / "test.csv", X_test, y_test)
    out = subprocess.run(
        [cli, "evaluate", "--model", tmp_path / "py.safetensors", "--data", tmp_path / "test.csv", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    # The same library predicts both: the same accuracy, exactly.
    assert report["accuracy"] == est.score(X_test, y_test)
    assert report["class_names"] == [str(c) for c in est.classes_]


def test_a_cli_model_becomes_a_fitted_estimator(digits, cli, tmp_path):
    X_train, X_test, y_train, y_test = digits
    write_csv(tmp_path / "train.csv", X_train, y_train)
    write_csv(tmp_path / "test.csv", X_test, y_test)
    subprocess.run(
        [cli, "train", "--data", tmp_path / "train.csv", "--test", tmp_path / "test.csv",
         "--layers", "24", "--activation", "tanh", "--epochs", "10", "--quiet",
         "--out", tmp_path / "cli.safetensors"],
        check=True,
    )
    est = glassbox.load(tmp_path / "cli.safetensors")
    assert isinstance(est, MLPClassifier)
    assert est.hidden_layer_sizes == (24,) and est.activation == "tanh"
    assert est.n_features_in_ == 64 and list(est.classes_) == list(range(10))
    out = subprocess.run(
        [cli, "evaluate", "--model", tmp_path / "cli.safetensors", "--data", tmp_path / "test.csv", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert est.score(X_test, y_test) == json.loads(out.strip().splitlines()[-1])["accuracy"] > 0.9
    # And it goes on learning in Python, from the CLI's weights.
    before = est.score(X_test, y_test)
    est.set_params(warm_start=True, max_iter=5).fit(X_train, y_train)
    assert est.score(X_test, y_test) >= before - 0.02


def test_save_load_round_trip_regressor(tmp_path):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1
    est = MLPRegressor((8,), max_iter=50, random_state=0).fit(X, y)
    est.save(tmp_path / "r.safetensors")
    back = glassbox.load(tmp_path / "r.safetensors")
    assert isinstance(back, MLPRegressor)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_load_names_the_file_that_is_not_a_model(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.safetensors"):
        glassbox.load(tmp_path / "junk.safetensors")
    with pytest.raises(OSError, match="missing.safetensors"):
        glassbox.load(tmp_path / "missing.safetensors")


def test_onnx_export_runs_in_onnx_runtime(digits, tmp_path):
    import onnxruntime as ort
    X_train, X_test, y_train, _ = digits
    est = MLPClassifier((16,), max_iter=10, random_state=0).fit(X_train, y_train)
    est.to_onnx(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    name = session.get_inputs()[0].name
    (probabilities,) = session.run(None, {name: X_test})[:1]
    np.testing.assert_allclose(probabilities, est.predict_proba(X_test), rtol=1e-4, atol=1e-6)
