# Types of the Python-visible entry points of fastrnn._core (and of
# fastrnn._core_avx2 and fastrnn._core_avx512, the same kernels built for
# AVX2 + FMA and for AVX-512). Arrays are
# C-contiguous and all of one float dtype (float32 or float64); shapes are
# checked by fastrnn.functional before any call, not here.
import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

_Float = np.float32 | np.float64
_Array = npt.NDArray[_Float]

ACTIVATION_CODES: dict[str, int]
SPLIT_BATCH_SEQUENCES: int

def _forward(
    x: _Array | None,
    ids: npt.NDArray[np.intp] | None,
    W_xh: _Array,
    W_hh: _Array,
    b: _Array,
    h0: _Array | None,
    lengths: npt.NDArray[np.intp] | None,
    h: _Array,
    activation: int,
    n_threads: int,
) -> None: ...
def _backward(
    x: _Array | None,
    ids: npt.NDArray[np.intp] | None,
    h: _Array,
    dh: _Array,
    W_xh: _Array,
    W_hh: _Array,
    h0: _Array | None,
    lengths: npt.NDArray[np.intp] | None,
    da: _Array,
    dx: _Array | None,
    dW_xh: _Array,
    dW_hh: _Array,
    db: _Array,
    dh0: _Array | None,
    activation: int,
    n_threads: int,
) -> None: ...
def _matmul(
    a: _Array, b: _Array, out: _Array, trans_a: bool, trans_b: bool, n_threads: int
) -> None: ...
def _readout_xent(
    h: _Array,
    W_hy: _Array,
    b_y: _Array,
    targets: npt.NDArray[np.intp],
    scale: float,
    z: _Array,
    dW: _Array,
    db: _Array,
    dh: _Array,
    row_losses: npt.NDArray[np.float64],
    work: _Array,
    n_threads: int,
) -> float: ...
def _readout_xent_work(H: int, V: int, n_threads: int, double: bool) -> int: ...
def _softmax_xent(
    z: _Array,
    targets: npt.NDArray[np.intp],
    scale: float,
    col_sums: _Array,
    row_losses: npt.NDArray[np.float64],
    n_threads: int,
) -> float: ...
def _softmax_rows(z: _Array) -> None: ...
def _adam(
    p: _Array,
    g: _Array,
    m: _Array,
    v: _Array,
    backup: _Array | None,
    scale: float,
    beta1: float,
    beta2: float,
    inv_sqrt_bc2: float,
    eps: float,
    step_size: float,
) -> int: ...
def _sum_squares(x: _Array) -> float: ...
def _omp_max_threads() -> int: ...
def _set_column_split_bytes(n_bytes: int) -> int: ...
def _last_team_size() -> int: ...
def _tanh_hook(values: _Array) -> None: ...
def _all_finite(values: _Array) -> bool: ...
def _cpu_has_avx2_fma() -> bool: ...
def _cpu_has_avx512() -> bool: ...

@disjoint_base
class _Stepper:
    def __new__(
        cls,
        W_xh: _Array,
        W_hh: _Array,
        b: _Array,
        W_hy: _Array,
        b_y: _Array,
        activation_name: str,
        activation: int,
    ) -> _Stepper: ...
    @property
    def W_xh(self) -> _Array: ...
    @property
    def W_hh(self) -> _Array: ...
    @property
    def b(self) -> _Array: ...
    @property
    def W_hy(self) -> _Array: ...
    @property
    def b_y(self) -> _Array: ...
    @property
    def dtype(self) -> np.dtype[_Float]: ...
    @property
    def activation_name(self) -> str: ...
    @property
    def activation(self) -> int: ...
    @property
    def D(self) -> int: ...
    @property
    def H(self) -> int: ...
    @property
    def N(self) -> int: ...
    def holds(self, d: dict[str, object]) -> bool: ...
    def run(
        self,
        X: npt.NDArray[np.generic],
        state: npt.NDArray[np.generic],
        max_rows: int,
        proba: bool,
    ) -> tuple[_Array, _Array] | None: ...
