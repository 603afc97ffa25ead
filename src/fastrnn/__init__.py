"""fastrnn: vanilla (Elman) recurrent neural networks with typed Cython kernels.

``fastrnn.forward`` / ``fastrnn.backward`` run the recurrence and its
backpropagation through time on the compiled kernels; ``fastrnn.reference``
has the same functions in plain NumPy.
"""

from ._threads import get_num_threads, threads  # first: it loads the kernels
from . import reference
from .functional import Gradients, backward, forward
from .estimator import NotFittedError, RNNClassifier, RNNRegressor, load
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
    "ModelFileError",
    "ModelFileWarning",
    "__version__",
]
