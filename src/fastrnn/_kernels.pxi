# fastrnn kernels: the Elman recurrence and its backpropagation through time.
#
# Included by _core.pyx (baseline instruction set, cimportable through
# _core.pxd) and by _core_avx2.pyx (the same source compiled for AVX2 + FMA;
# fastrnn.functional picks it when the CPU has both).
#
#   a_t = x_t @ W_xh + h_{t-1} @ W_hh + b        h_t = act(a_t)
#
# Layout (all C-contiguous, batch-first): x (B, T, D); h, dh and the work
# buffer da (B, T, H). Row (b, t) of a (B, T, H) array starts at
# (b * T + t) * H, so the B rows of step t form a matrix with row stride T * H
# and the products read them in place, without copies.
#
# Structure (after thinc's LSTM kernels):
#   forward:  one product projects the inputs of all B * T rows into h; each
#             step then adds only h_{t-1} @ W_hh and applies the activation.
#   backward: the reverse loop only forms da_t = (dh_t + da_{t+1} @ W_hh^T) *
#             act'(a_t); after it, one pass over dA gives dW_xh, dW_hh, dx
#             (products) and db (a column sum): tied weights, sums over all
#             steps.
#
# Three layers: `def _forward/_backward` take typed memoryviews from
# fastrnn.functional (which has checked every shape and value and allocated
# every buffer) and hold one `with nogil:` around the call; `rnn_forward/
# rnn_backward` (cimportable, see _core.pxd) work on pointers and sizes; the
# helpers below do the products and one step's work. The cdef functions never
# raise: rnn_forward/rnn_backward return -1 when they cannot allocate.
#
# The source is in four parts, included here in order (each uses only what
# the ones before it define):
#   _primitives.pxi   tanh, activations, vector types, OpenMP helpers
#   _products.pxi     packed-panel products and the weight gradients; its
#                     register blocks are rendered per precision from
#                     _register_blocks.pxi.tp by the build (setup.py)
#   _passes.pxi       the time loops, rnn_forward and rnn_backward
#   _entry_points.pxi the Python entry points, small calls, test hooks
# _kernels_train.pxi (the loss and optimizer kernels) follows in _core.pyx.


from cython cimport floating

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from libc.string cimport memcpy

from cython.parallel cimport parallel, prange, threadid

include "_primitives.pxi"
include "_products.pxi"
include "_passes.pxi"
include "_entry_points.pxi"
