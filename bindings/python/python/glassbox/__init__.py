"""glassbox: a neural network you can read, as scikit-learn estimators.

``MLPClassifier`` and ``MLPRegressor`` are scikit-learn estimators whose training and
prediction run in the glassbox engine (the Rust library behind the ``glassbox``
command line), with the glass in Python: ``explain`` returns every number of one
back-propagation step, and a fitted estimator draws its network in a notebook.
``load`` reads a model file that the command line or ``save`` wrote.
"""

from ._core import Model, __version__, available_threads
from ._estimators import MLPClassifier, MLPRegressor, load

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "Model",
    "available_threads",
    "load",
    "__version__",
]
