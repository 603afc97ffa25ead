# Types of fastrnn._core_avx512: the entry points of fastrnn._core (see there),
# the same kernels built for AVX-512 (64-byte vectors).
from ._core import ACTIVATION_CODES as ACTIVATION_CODES
from ._core import SPLIT_BATCH_SEQUENCES as SPLIT_BATCH_SEQUENCES
from ._core import _adam as _adam
from ._core import _all_finite as _all_finite
from ._core import _backward as _backward
from ._core import _forward as _forward
from ._core import _last_team_size as _last_team_size
from ._core import _matmul as _matmul
from ._core import _omp_max_threads as _omp_max_threads
from ._core import _readout_xent as _readout_xent
from ._core import _readout_xent_work as _readout_xent_work
from ._core import _set_column_split_bytes as _set_column_split_bytes
from ._core import _softmax_rows as _softmax_rows
from ._core import _softmax_xent as _softmax_xent
from ._core import _sum_squares as _sum_squares
from ._core import _Stepper as _Stepper
from ._core import _tanh_hook as _tanh_hook
