"""Type stubs for glassbox._core, the compiled bridge to the glassbox library."""

from os import PathLike
from typing import Any, Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

__version__: str

def available_threads() -> int:
    """The number of cores glassbox uses when n_threads is None."""

class Model:
    """A network and what its model file keeps beside it."""

    def __init__(
        self, inputs: int, layers: Sequence[tuple[int, str]], init: str = "auto", seed: int = 0
    ) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> Model: ...
    @staticmethod
    def from_bytes(bytes: bytes) -> Model: ...
    def to_bytes(self) -> bytes: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    def to_onnx(self, path: str | PathLike[str]) -> None: ...
    @property
    def inputs(self) -> int: ...
    @property
    def layers(self) -> list[tuple[int, str]]: ...
    @property
    def class_names(self) -> list[str]: ...
    @class_names.setter
    def class_names(self, names: list[str]) -> None: ...
    @property
    def loss(self) -> Optional[str]: ...
    @property
    def has_scaler(self) -> bool: ...
    def parameters(self) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]: ...
    def predict(
        self, x: npt.NDArray[np.float32], n_threads: Optional[int] = None
    ) -> npt.NDArray[np.float32]: ...
    def fit(
        self,
        x: npt.NDArray[np.float32],
        labels: Optional[npt.NDArray[np.int64]] = None,
        values: Optional[npt.NDArray[np.float32]] = None,
        *,
        classes: int = 0,
        loss: str = "cross-entropy",
        solver: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        nesterov: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        batch_size: int = 200,
        epochs: int = 200,
        shuffle: bool = True,
        seed: int = 0,
        l2: float = 0.0,
        dropout: float = 0.0,
        n_threads: Optional[int] = None,
        tol: float = 1e-4,
        n_iter_no_change: Optional[int] = 10,
        early_stopping: bool = False,
        x_val: Optional[npt.NDArray[np.float32]] = None,
        labels_val: Optional[npt.NDArray[np.int64]] = None,
        values_val: Optional[npt.NDArray[np.float32]] = None,
        carry_optimizer: bool = False,
        progress: Optional[Callable[[int, int, int, int, float, list[float]], Any]] = None,
    ) -> dict[str, Any]: ...
    def explain(
        self,
        x: Sequence[float],
        y: Sequence[float],
        loss: str,
        *,
        solver: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        nesterov: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> dict[str, Any]: ...
