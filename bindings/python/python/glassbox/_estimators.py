"""scikit-learn estimators over the glassbox engine.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's parameter names, meanings and
defaults, check their parameters and data with scikit-learn's own validators, and hand
the arrays to ``glassbox._core.Model``: the Rust library trains and predicts. Nothing
here computes a forward or a backward pass.

Differences from ``sklearn.neural_network`` (each one said where it matters):

* A classifier has one output neuron per class, binary problems included (the article's
  rule), so ``n_outputs_`` is the number of classes and the last ``coefs_`` array has one
  column per class. With ``loss="cross_entropy"`` (the default) the outputs are a
  softmax; with the article's ``loss="mse"`` they are sigmoids, and ``predict_proba``
  divides them by their sum.
* ``alpha`` is scikit-learn's L2 penalty: each step's gradient gains ``alpha / batch`` ·
  W, as in scikit-learn. ``loss_curve_`` holds the data loss, without the penalty term.
* Weights are float32; the engine computes in float32.
"""

from __future__ import annotations

import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from ._display import network_svg

_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky-relu",
}

#: scikit-learn settings that glassbox does not have, and what to use instead.
_NOT_IN_GLASSBOX = {
    ("solver", "lbfgs"): "glassbox has no 'lbfgs' solver; use 'adam', 'sgd' or the "
    "full-batch 'rprop'",
    ("learning_rate", "invscaling"): "glassbox keeps the learning rate constant: "
    "learning_rate='invscaling' is a scikit-learn setting glassbox does not have "
    "(use learning_rate='constant')",
    ("learning_rate", "adaptive"): "glassbox keeps the learning rate constant: "
    "learning_rate='adaptive' is a scikit-learn setting glassbox does not have "
    "(use learning_rate='constant')",
    ("loss", "poisson"): "glassbox has no Poisson loss; use loss='squared_error'",
}


class _Progress:
    """A progress bar for ``verbose=True``, drawn on ``sys.stderr`` (a terminal, or a
    notebook's output cell: both understand a carriage return), and scikit-learn's
    ``Iteration N, loss = …`` line on ``sys.stdout`` after each epoch."""

    def __init__(self, first_iteration):
        self.printed = 0
        self.first = first_iteration
        self.start = time.monotonic()

    def __call__(self, epoch, epochs, done, total, loss, finished):
        for loss_at in finished[self.printed :]:
            self.printed += 1
            sys.stderr.write("\r" + " " * 78 + "\r")
            print(f"Iteration {self.first + self.printed}, loss = {loss_at:.8f}")
        width = 30
        fill = int(width * done / total) if total else 0
        seen = len(finished[: epoch - 1]) * total + done
        rate = seen / max(time.monotonic() - self.start, 1e-9)
        sys.stderr.write(
            f"\repoch {epoch}/{epochs} [{'#' * fill}{'.' * (width - fill)}] "
            f"{done}/{total}  loss {loss:.4f}  {rate:,.0f} examples/s"
        )
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\r" + " " * 78 + "\r")
        sys.stderr.flush()


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, fitting, files."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"adam", "sgd", "rprop", "lbfgs"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        loss=None,
        dropout=0.0,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.dropout = dropout
        self.n_threads = n_threads

    # ----------------------------------------------------------------- checks

    def _check_settings(self):
        """Parameters scikit-learn validates, then the ones glassbox refuses."""
        self._validate_params()
        for (name, value), message in _NOT_IN_GLASSBOX.items():
            if getattr(self, name) == value:
                raise ValueError(message)
        if self.loss not in self._LOSSES:
            raise ValueError(
                f"{type(self).__name__} has no loss {self.loss!r}: glassbox's are "
                f"{', '.join(repr(k) for k in self._LOSSES if k is not None)}"
            )
        hidden = self._hidden()
        if any(h < 1 for h in hidden):
            raise ValueError(
                f"hidden_layer_sizes must be > 0, got {list(hidden)}."
            )
        if self.solver == "rprop" and self.batch_size != "auto":
            raise ValueError(
                "solver='rprop' is full-batch: every step uses the whole training set, "
                f"so batch_size={self.batch_size!r} cannot apply (leave it 'auto')"
            )

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            return [int(sizes)]
        return [int(h) for h in sizes]

    def _batch(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going "
                "to be clipped"
            )
        return max(1, min(self.batch_size, n_samples))

    def _activation(self):
        name = _ACTIVATIONS[self.activation]
        return name

    # ----------------------------------------------------------------- fitting

    def _new_model(self, n_features, n_outputs, seed):
        layers = [(h, self._activation()) for h in self._hidden()]
        layers.append((n_outputs, self._output_activation()))
        return _core.Model(n_features, layers, "auto", seed)

    def _train(self, X, targets, *, epochs, incremental, X_val=None, targets_val=None):
        """One call of the engine: ``epochs`` epochs on (X, targets)."""
        n = X.shape[0]
        batch = self._batch(n)
        seeds = self._seeds
        kwargs = dict(
            classes=self._n_classes(),
            loss=self._engine_loss(),
            solver=self.solver,
            learning_rate=float(self.learning_rate_init),
            momentum=float(self.momentum),
            nesterov=bool(self.nesterovs_momentum),
            beta_1=float(self.beta_1),
            beta_2=float(self.beta_2),
            epsilon=float(self.epsilon),
            batch_size=batch,
            epochs=int(epochs),
            shuffle=bool(self.shuffle),
            seed=int(seeds.randint(np.iinfo(np.int32).max)),
            l2=float(self.alpha) / batch,
            dropout=float(self.dropout),
            n_threads=self.n_threads,
            tol=float(self.tol),
            n_iter_no_change=None if incremental else int(self.n_iter_no_change),
            early_stopping=bool(self.early_stopping) and X_val is not None,
            carry_optimizer=incremental,
        )
        kwargs.update(self._targets_kwargs(targets, ""))
        if X_val is not None:
            kwargs["x_val"] = X_val
            kwargs.update(self._targets_kwargs(targets_val, "_val"))
        progress = _Progress(getattr(self, "n_iter_", 0)) if self.verbose else None
        kwargs["progress"] = progress
        try:
            result = self._model.fit(X, **kwargs)
        finally:
            if progress is not None:
                progress.close()
        if result["interrupted"]:
            warnings.warn("Training interrupted by user.")
        return result, batch

    def _fit(self, X, y, incremental=False):
        self._check_settings()
        first = not hasattr(self, "_model")
        reset = first or not (self.warm_start or incremental)
        X, y = self._validate_xy(X, y, reset=reset, incremental=incremental)
        targets = self._encode(y, incremental)
        if reset or self._model.inputs != X.shape[1]:
            self._seeds = check_random_state(self.random_state)
            seed = int(self._seeds.randint(np.iinfo(np.int32).max))
            self._model = self._new_model(X.shape[1], self._n_model_outputs(), seed)
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.t_ = 0
            self._no_improvement_count = 0
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self.best_loss_ = None if self.early_stopping else np.inf
        if not hasattr(self, "_seeds"):  # a model read from a file
            self._seeds = check_random_state(self.random_state)
        X_val = targets_val = None
        if self.early_stopping and not incremental:
            stratify = targets if self._is_classifier() else None
            X, X_val, targets, targets_val = train_test_split(
                X,
                targets,
                random_state=int(self._seeds.randint(np.iinfo(np.int32).max)),
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X, X_val = np.ascontiguousarray(X), np.ascontiguousarray(X_val)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small: with early_stopping=True, "
                    f"validation_fraction={self.validation_fraction} of "
                    f"{X.shape[0] + X_val.shape[0]} samples leaves fewer than 2."
                )
        epochs = 1 if incremental else self.max_iter
        result, batch = self._train(
            X, targets, epochs=epochs, incremental=incremental, X_val=X_val,
            targets_val=targets_val,
        )
        self._model.class_names = [str(c) for c in getattr(self, "classes_", [])]
        self.n_iter_ += result["n_iter"]
        self.t_ += result["n_iter"] * X.shape[0]
        self.loss_curve_.extend(result["loss_curve"])
        if self.early_stopping and not incremental:
            self.validation_scores_.extend(result["validation_scores"])
            self.best_validation_score_ = max(
                self.best_validation_score_, result["best_validation_score"]
            )
        elif self.loss_curve_:
            self.best_loss_ = min(self.best_loss_ or np.inf, min(self.loss_curve_))
        self.n_layers_ = len(self._hidden()) + 2
        self.n_outputs_ = self._n_model_outputs()
        self.out_activation_ = self._out_activation_name()
        if (
            not incremental
            and not result["converged"]
            and not result["interrupted"]
            and result["n_iter"] == self.max_iter
        ):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _validate_xy(self, X, y, *, reset, incremental):
        if y is None:
            raise ValueError(
                f"requires y to be passed, but the target y is None: {type(self).__name__} "
                "learns from labelled examples."
            )
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=np.float32,
            order="C",
            multi_output=self._multi_output(),
            y_numeric=not self._is_classifier(),
        )

    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y.

        X is used as it is, without a copy, when it is a float32 C-contiguous NumPy
        array; other inputs are converted to one first. The engine reads X while the
        GIL is released: do not write to it from another thread while ``fit`` runs.
        Ctrl-C (``KeyboardInterrupt``) stops training at the next batch; the weights of
        the last finished epoch are kept, and a warning says so.

        Returns ``self``.
        """
        return self._fit(X, y, incremental=False)

    # -------------------------------------------------------------- prediction

    def _outputs(self, X):
        check_is_fitted(self, "_model")
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        return self._model.predict(X, self.n_threads)

    # --------------------------------------------------------------- the glass

    @property
    def coefs_(self):
        """Weights of every layer, ``coefs_[i]`` of shape ``(n_in, n_out)``."""
        check_is_fitted(self, "_model")
        return [np.ascontiguousarray(w.T) for w, _ in self._model.parameters()]

    @property
    def intercepts_(self):
        """Biases of every layer, ``intercepts_[i]`` of shape ``(n_out,)``."""
        check_is_fitted(self, "_model")
        return [b for _, b in self._model.parameters()]

    def explain(self, x, y):
        """Every number of one forward and backward pass of example ``x`` with target
        ``y``, from the library's ``explain`` (the same numbers ``glassbox explain``
        prints): ``{"loss": C, "layers": [{"z", "a", "delta", "grad_weights",
        "grad_biases", "new_weights", "new_biases"}, …]}``, NumPy arrays,
        ``grad_weights`` and ``new_weights`` of shape ``(n_in, n_out)`` like ``coefs_``.
        ``new_weights`` and ``new_biases`` are what the first step of this estimator's
        solver (Adam's, say) would make of the weights, by the trainer's own update.
        """
        check_is_fitted(self, "_model")
        x = validate_data(
            self, np.asarray(x, dtype=np.float32).reshape(1, -1), reset=False,
            dtype=np.float32, order="C",
        )[0]
        target = self._explain_target(y)
        trace = self._model.explain(
            x.tolist(), target.tolist(), self._engine_loss(), solver=self.solver,
            learning_rate=float(self.learning_rate_init), momentum=float(self.momentum),
            nesterov=bool(self.nesterovs_momentum), beta_1=float(self.beta_1),
            beta_2=float(self.beta_2), epsilon=float(self.epsilon),
        )
        for layer in trace["layers"]:
            layer["grad_weights"] = np.ascontiguousarray(layer["grad_weights"].T)
            layer["new_weights"] = np.ascontiguousarray(layer["new_weights"].T)
        return trace

    def save(self, path):
        """Write the fitted model as glassbox's model file (safetensors), which
        ``glassbox evaluate --model PATH`` and ``glassbox.load`` read."""
        check_is_fitted(self, "_model")
        self._model.save(str(path))

    def to_onnx(self, path):
        """Export the fitted network as an ONNX model (the library's ONNX export)."""
        check_is_fitted(self, "_model")
        self._model.to_onnx(str(path))

    def _repr_html_(self):
        """A fitted estimator draws its network in a notebook: inline SVG, no
        JavaScript. An unfitted one shows scikit-learn's usual diagram."""
        if not hasattr(self, "_model"):
            return super()._repr_html_inner()
        return network_svg(self)

    def _repr_mimebundle_(self, **kwargs):
        bundle = {"text/plain": repr(self)}
        bundle["text/html"] = self._repr_html_()
        return bundle

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_model")


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, trained by the glassbox engine.

    scikit-learn's ``MLPClassifier`` parameters, with their meanings and defaults, plus
    glassbox's own:

    loss : {"cross_entropy", "mse"}, default="cross_entropy"
        ``cross_entropy``: softmax outputs and cross-entropy. ``mse``: the article's
        sigmoid outputs and mean squared error.
    dropout : float in [0, 1), default=0.0
        Dropout rate on the hidden layers' outputs while training.
    n_threads : int or None, default=None
        Threads for training and prediction; None means every core.

    ``solver`` also takes ``"rprop"`` (full-batch iRPROP⁻: every step uses the whole
    training set, and each weight's step size adapts on its own, so ``batch_size`` and
    ``learning_rate_init`` do not apply) and ``activation`` also ``"leaky_relu"``
    (slope 0.01). Settings glassbox does not have (``solver="lbfgs"``,
    ``learning_rate="adaptive"`` or ``"invscaling"``) raise ``ValueError`` at ``fit``.
    """

    _LOSSES = {None: "cross-entropy", "cross_entropy": "cross-entropy", "mse": "mse"}

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        loss="cross_entropy",
        dropout=0.0,
        n_threads=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            loss=loss,
            dropout=dropout,
            n_threads=n_threads,
        )

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"cross_entropy", "mse"})],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags

    # What the shared code asks of a classifier.
    def _is_classifier(self):
        return True

    def _multi_output(self):
        return False

    def _n_classes(self):
        return len(self.classes_)

    def _n_model_outputs(self):
        return len(self.classes_)

    def _engine_loss(self):
        return self._LOSSES[self.loss]

    def _output_activation(self):
        return "softmax" if self._engine_loss() == "cross-entropy" else "sigmoid"

    def _out_activation_name(self):
        return "softmax" if self._engine_loss() == "cross-entropy" else "logistic"

    def _targets_kwargs(self, targets, suffix):
        return {f"labels{suffix}": np.ascontiguousarray(targets, dtype=np.int64)}

    def _encode(self, y, incremental):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            if type_of_target(y) == "multilabel-indicator":
                raise ValueError("glassbox does not learn multilabel targets")
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"`y` has classes not in `self.classes_`: {unseen.tolist()}. "
                    f"self.classes_ has {self.classes_.tolist()}."
                )
            return np.searchsorted(self.classes_, y)
        if not (self.warm_start and hasattr(self, "_model")):
            self._label_encoder = LabelEncoder().fit(y)
            self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "glassbox needs examples of at least 2 classes to train a classifier; "
                f"y has only one class: {self.classes_[0]!r}"
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"warm_start can not be used when `y` has classes not seen before: "
                f"{unseen.tolist()}"
            )
        return np.searchsorted(self.classes_, y)

    def _explain_target(self, y):
        onehot = np.zeros(len(self.classes_), dtype=np.float32)
        index = np.searchsorted(self.classes_, y)
        if index >= len(self.classes_) or self.classes_[index] != y:
            raise ValueError(f"{y!r} is not one of the classes {self.classes_.tolist()}")
        onehot[index] = 1.0
        return onehot

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), carrying the optimiser's state from the last call.

        ``classes`` (every class y will ever hold) is required on the first call.
        """
        if _check_partial_fit_first_call(self, classes):
            self._check_settings()
            if len(self.classes_) < 2:
                raise ValueError(
                    "glassbox needs at least 2 classes to train a classifier; "
                    f"classes has {len(self.classes_)}"
                )
            if hasattr(self, "_model"):
                del self._model
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """The class of each row: the output neuron with the largest activation."""
        outputs = self._outputs(X)
        return self.classes_[np.argmax(outputs, axis=1)]

    def predict_proba(self, X):
        """Class probabilities, shape ``(n_samples, n_classes)``: the softmax outputs
        (with ``loss="mse"``, the sigmoid outputs divided by their sum)."""
        outputs = self._outputs(X).astype(np.float64)
        if self._engine_loss() != "cross-entropy":
            outputs /= np.maximum(outputs.sum(axis=1, keepdims=True), 1e-12)
        else:
            outputs /= outputs.sum(axis=1, keepdims=True)
        return outputs

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by the glassbox engine.

    scikit-learn's ``MLPRegressor`` parameters, with their meanings and defaults
    (``loss="squared_error"``, which glassbox also calls ``"mse"``), plus glassbox's
    ``dropout`` and ``n_threads`` (see ``MLPClassifier``). The output layer is linear
    (``out_activation_ == "identity"``); y may have several columns.
    """

    _LOSSES = {None: "mse", "squared_error": "mse", "mse": "mse"}

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        loss="squared_error",
        dropout=0.0,
        n_threads=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            loss=loss,
            dropout=dropout,
            n_threads=n_threads,
        )

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "mse", "poisson"})],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _is_classifier(self):
        return False

    def _multi_output(self):
        return True

    def _n_classes(self):
        return 0

    def _n_model_outputs(self):
        return self._y_width

    def _engine_loss(self):
        return self._LOSSES[self.loss]

    def _output_activation(self):
        return "identity"

    def _out_activation_name(self):
        return "identity"

    def _targets_kwargs(self, targets, suffix):
        return {f"values{suffix}": np.ascontiguousarray(targets, dtype=np.float32)}

    def _encode(self, y, incremental):
        y = np.asarray(y, dtype=np.float64)
        one_column = y.ndim == 1
        y2 = y.reshape(-1, 1) if one_column else y
        if incremental and hasattr(self, "_y_width") and hasattr(self, "_model"):
            if y2.shape[1] != self._y_width:
                raise ValueError(
                    f"y has {y2.shape[1]} targets per row, but the model was fitted "
                    f"with {self._y_width}"
                )
        else:
            self._y_width = y2.shape[1]
            self._y_1d = one_column
        return y2.astype(np.float32)

    def _explain_target(self, y):
        target = np.atleast_1d(np.asarray(y, dtype=np.float32))
        if target.shape != (self._y_width,):
            raise ValueError(
                f"y must have {self._y_width} value(s) for this model, got {target.shape}"
            )
        return target

    def partial_fit(self, X, y):
        """One epoch over (X, y), carrying the optimiser's state from the last call."""
        if not hasattr(self, "_model"):
            self._check_settings()
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """The network's outputs: shape ``(n_samples,)`` for a single target."""
        outputs = self._outputs(X).astype(np.float64)
        return outputs.ravel() if self._y_1d else outputs


def load(path):
    """A fitted estimator from a glassbox model file (``glassbox train`` writes them;
    so does ``save``): an ``MLPClassifier`` when the model names its classes, an
    ``MLPRegressor`` otherwise. Class names that are all integers become integer
    classes."""
    model = _core.Model.load(str(path))
    layers = model.layers
    hidden = tuple(n for n, _ in layers[:-1])
    activations = {a for _, a in layers[:-1]}
    activation = "relu"
    if activations:
        if len(activations) > 1:
            raise ValueError(
                f"{path}: its hidden layers use several activations ({sorted(activations)}), "
                "which a scikit-learn estimator cannot describe"
            )
        (name,) = activations
        by_engine = {v: k for k, v in _ACTIVATIONS.items()}
        activation = by_engine.get(name.split(":")[0])
        if activation is None:
            raise ValueError(f"{path}: hidden activation {name!r} has no scikit-learn name")
    names = model.class_names
    out_name = layers[-1][1]
    if names:
        loss = "cross_entropy" if out_name == "softmax" else "mse"
        est = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, loss=loss)
        try:
            est.classes_ = np.array([int(n) for n in names])
        except ValueError:
            est.classes_ = np.array(names)
        est.out_activation_ = est._out_activation_name()
    else:
        est = MLPRegressor(hidden_layer_sizes=hidden, activation=activation)
        est._y_width = layers[-1][0]
        est._y_1d = est._y_width == 1
        est.out_activation_ = "identity"
    est._model = model
    est.n_features_in_ = model.inputs
    est.n_layers_ = len(layers) + 1
    est.n_outputs_ = layers[-1][0]
    est.n_iter_ = 0
    est.t_ = 0
    est.loss_curve_ = []
    est.best_loss_ = np.inf
    est.validation_scores_ = None
    est.best_validation_score_ = None
    return est
