"""fastrnn: vanilla (Elman) recurrent neural networks with typed Cython kernels.

``fastrnn.forward`` / ``fastrnn.backward`` run the recurrence and its
backpropagation through time on the compiled kernels; ``fastrnn.reference``
has the same functions in plain NumPy.
"""

from ._threads import get_num_threads, threads  # first: it loads the kernels
from . import reference
from .functional import Gradients, backward, forward
from . import _sklearn
from .estimator import RNNClassifier, RNNRegressor, load
from .io import ModelFileError, ModelFileWarning

__version__ = "0.1.0"

__all__ = [
    "forward",
    "backward",
    "Gradients",
    "threads",
    "get_num_threads",
    "reference",
    "RNNRegressor",
    "RNNClassifier",
    "load",
    "NotFittedError",
    "ConvergenceWarning",
    "DataConversionWarning",
    "ModelFileError",
    "ModelFileWarning",
    "__version__",
]


def __getattr__(name):
    # NotFittedError, ConvergenceWarning, DataConversionWarning: subclasses of
    # scikit-learn's classes when it is installed, built on first use so that
    # importing fastrnn does not import scikit-learn (see fastrnn._sklearn).
    if name in _sklearn.EXCEPTIONS:
        return _sklearn.exception_class(name)
    raise AttributeError(f"module 'fastrnn' has no attribute {name!r}")
