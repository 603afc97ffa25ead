"""The cimport API: another Cython module compiled against fastrnn/_core.pxd
calls the kernels directly, and gets what fastrnn.forward returns."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastrnn

pytest.importorskip("Cython")
pytest.importorskip("setuptools")

USER_MODULE = """
# cython: language_level=3
from fastrnn._core cimport rnn_forward, rnn_backward, ACT_TANH

def forward(const double[:, :, ::1] x, const double[:, ::1] W_xh,
            const double[:, ::1] W_hh, const double[::1] b, double[:, :, ::1] h):
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2], D = x.shape[2]
    cdef int status
    with nogil:
        status = rnn_forward(&x[0, 0, 0], NULL, &W_xh[0, 0], &W_hh[0, 0], &b[0], NULL,
                             NULL, &h[0, 0, 0], B, T, D, H, ACT_TANH, 1)
    return status

def forward_ids(const Py_ssize_t[:, ::1] ids, const float[:, ::1] W_xh,
                const float[:, ::1] W_hh, const float[::1] b, float[:, :, ::1] h):
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2], V = W_xh.shape[0]
    cdef int status
    with nogil:
        status = rnn_forward(<float*>NULL, &ids[0, 0], &W_xh[0, 0], &W_hh[0, 0], &b[0],
                             NULL, NULL, &h[0, 0, 0], B, T, V, H, ACT_TANH, 2)
    return status
"""

SETUP = """
import os
import fastrnn
from Cython.Build import cythonize
from setuptools import Extension, setup

site = os.path.dirname(os.path.dirname(fastrnn.__file__))
setup(ext_modules=cythonize([Extension("user_mod", ["user_mod.pyx"])],
                            include_path=[site], quiet=True))
"""


@pytest.fixture(scope="module")
def user_mod(tmp_path_factory):
    root = tmp_path_factory.mktemp("cimport")
    (root / "user_mod.pyx").write_text(textwrap.dedent(USER_MODULE))
    (root / "setup.py").write_text(textwrap.dedent(SETUP))
    pxd = os.path.join(os.path.dirname(fastrnn.__file__), "_core.pxd")
    assert os.path.exists(pxd), "fastrnn/_core.pxd is not installed with the package"
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"],
                          cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sys.path.insert(0, str(root))
    try:
        import user_mod
        yield user_mod
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("user_mod", None)


def test_cimported_forward_matches_fastrnn(user_mod):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4))
    W_xh = rng.standard_normal((4, 6))
    W_hh = rng.standard_normal((6, 6)) / 3
    b = rng.standard_normal(6)
    h = np.empty((3, 5, 6))
    assert user_mod.forward(x, W_xh, W_hh, b, h) == 0  # on 1 thread
    expected = fastrnn.reference.forward(x, W_xh, W_hh, b)
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-14)


def test_cimported_forward_with_ids(user_mod):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 7, size=(2, 4)).astype(np.intp)
    W_xh = rng.standard_normal((7, 5)).astype(np.float32)
    W_hh = (rng.standard_normal((5, 5)) / 3).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    h = np.empty((2, 4, 5), np.float32)
    assert user_mod.forward_ids(ids, W_xh, W_hh, b, h) == 0  # on 2 threads
    np.testing.assert_allclose(h, fastrnn.reference.forward(ids, W_xh, W_hh, b), rtol=1e-5, atol=1e-6)
