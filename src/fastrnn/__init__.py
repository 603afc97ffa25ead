"""fastrnn: vanilla (Elman) recurrent neural networks with typed Cython kernels.

``fastrnn.forward`` / ``fastrnn.backward`` run the recurrence and its
backpropagation through time on the compiled kernels; ``fastrnn.reference``
has the same functions in plain NumPy.
"""

from ._threads import get_num_threads, threads  # first: it loads the kernels
from . import reference
from .functional import Gradients, backward, forward
from . import _sklearn
from .estimator import NonFiniteLossError, RNNClassifier, RNNRegressor, load
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
    "NonFiniteLossError",
    "ModelFileError",
    "ModelFileWarning",
    "__version__",
]


# NotFittedError, ConvergenceWarning, DataConversionWarning: subclasses of
# scikit-learn's classes when it is installed, built on first use (see
# fastrnn._sklearn).
__getattr__ = _sklearn.module_getattr(__name__)
