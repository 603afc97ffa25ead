"""Argument checking of forward/backward, compiled and reference alike.

Every bad argument is a TypeError (dtype) or ValueError (shape, value) whose
message starts with the argument's name; non-contiguous and convertible
inputs are accepted; and random malformed arguments never get past the
checks into the kernels (the fuzz test at the end).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastrnn
from fastrnn import functional, reference

B, T, D, H = 3, 5, 3, 7  # sizes that are not multiples of any vector width
LENGTHS = np.array([5, 2, 4])
FLOAT_ARGS = ("x", "W_xh", "W_hh", "b", "h0", "h", "dh")
TAKES = {
    "forward": ("x", "W_xh", "W_hh", "b", "h0", "lengths"),
    "backward": ("x", "h", "dh", "W_xh", "W_hh", "h0", "lengths"),
}


@pytest.fixture(params=[fastrnn, reference], ids=["compiled", "reference"])
def api(request):
    """fastrnn (the kernels) or fastrnn.reference: both must check alike."""
    return request.param


def valid_args(dtype=np.float64):
    rng = np.random.default_rng(0)
    args = {
        "x": rng.standard_normal((B, T, D)),
        "W_xh": 0.5 * rng.standard_normal((D, H)),
        "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": 0.5 * rng.standard_normal(H),
        "h0": 0.5 * rng.standard_normal((B, H)),
        "dh": rng.standard_normal((B, T, H)),
    }
    args = {k: v.astype(dtype) for k, v in args.items()}
    args["lengths"] = LENGTHS.copy()
    args["activation"] = "tanh"
    args["h"] = reference.forward(args["x"], args["W_xh"], args["W_hh"], args["b"],
                                  args["h0"], lengths=args["lengths"])
    return args


def run(api, fn, args):
    if fn == "forward":
        return api.forward(args["x"], args["W_xh"], args["W_hh"], args["b"], args["h0"],
                           activation=args["activation"], lengths=args["lengths"])
    return api.backward(args["x"], args["h"], args["dh"], args["W_xh"], args["W_hh"],
                        args["h0"], activation=args["activation"], lengths=args["lengths"])


def with_arg(fn, name, value, dtype=np.float64):
    args = valid_args(dtype)
    assert name in TAKES[fn] or name == "activation"
    args[name] = value
    return args


def cases(names, extra):
    """(fn, name, *e) for each function that takes `name`, each e in extra[name];
    the test id shows fn, name and the first of e."""
    return [pytest.param(fn, name, *e, id="-".join([fn, name] + [_id(v) for v in e[:1]]))
            for fn in TAKES for name in names if name in TAKES[fn] for e in extra[name]]


def _id(value):
    if isinstance(value, tuple):
        return "shape" + "x".join(map(str, value)) if value else "0d"
    return getattr(value, "__name__", str(value))


def outputs(result):
    """The arrays of a forward (h) or backward (Gradients) result."""
    return [result] if isinstance(result, np.ndarray) else list(result)


def assert_same_result(actual, expected, rtol=1e-13):
    for a, e in zip(outputs(actual), outputs(expected), strict=True):
        if e is None:
            assert a is None
            continue
        assert a.dtype == e.dtype and a.shape == e.shape
        if e.size:
            assert np.abs(a - e).max() <= rtol * max(np.abs(e).max(), 1e-300)


# --- dtypes ---------------------------------------------------------------

BAD_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.complex128, np.object_]
BAD_WEIGHT_DTYPES = [np.float16]  # other float arrays are converted
if np.finfo(np.longdouble).bits > 64:
    BAD_WEIGHT_DTYPES.append(np.longdouble)


@pytest.mark.parametrize(
    "fn,name,bad",
    cases(FLOAT_ARGS, {n: [(d,) for d in BAD_DTYPES + (BAD_WEIGHT_DTYPES if n.startswith("W_")
                                                         else [])]
                       for n in FLOAT_ARGS}),
)
def test_non_float_dtype_is_type_error(api, fn, name, bad):
    args = valid_args()
    args[name] = args[name].astype(bad)
    dtype_name = re.escape(str(np.dtype(bad)))
    with pytest.raises(TypeError, match=rf"^{name} .*dtype {dtype_name}"):
        run(api, fn, args)


# --- shapes ---------------------------------------------------------------

EXPECTED_SHAPES = {"W_xh": [(D, H)], "b": [(H,)], "h0": [(H,), (B, H)],
                   "h": [(B, T, H)], "dh": [(B, T, H)]}
# 0-D arrays are listed too: np.ascontiguousarray would make them (1,) and
# misreport them (or, for b and h0 with H = 1, accept them).
WRONG_SHAPES = {
    "x": [(B, T), (B, T, D, 1), (B * T * D,), ()],
    "W_xh": [(D + 1, H), (D, H + 1), (H, D), (D,), (D, H, 1)],
    "W_hh": [(H, H + 1), (H,), (H, H, 1), (0, 0), ()],
    "b": [(H + 1,), (1, H), (H, 1), ()],
    "h0": [(H + 1,), (B + 1, H), (B, H + 1), (1, H), (B, T, H), ()],
    "h": [(B, T, H + 1), (B, T + 1, H), (T, B, H), (B, T)],
}
WRONG_SHAPES["dh"] = WRONG_SHAPES["h"]


def shape_message(name, shape):
    """Regex of the message after the name: what was expected, then what was given."""
    got = re.escape(str(shape))  # str(tuple) is the messages' format: (3,), (), (3, 5)
    if name == "x":
        return rf"must be 3-D .*with shape {got}$"
    if name == "W_hh":
        return rf"must be a square .*n_hidden >= 1, got shape {got}$"
    expected = ".*".join(re.escape(str(e)) for e in EXPECTED_SHAPES[name])
    return rf"must have shape {expected}.*, got {got}$"


@pytest.mark.parametrize("fn,name,shape", cases(WRONG_SHAPES, {
    n: [(shape,) for shape in shapes] for n, shapes in WRONG_SHAPES.items()}))
def test_wrong_shape_is_value_error(api, fn, name, shape):
    args = with_arg(fn, name, np.full(shape, 0.25))
    with pytest.raises(ValueError, match=rf"^{name} {shape_message(name, shape)}"):
        run(api, fn, args)


@pytest.mark.parametrize("fn,name", [("forward", "b"), ("forward", "h0"), ("backward", "h0")])
def test_zero_d_array_is_not_a_vector(api, fn, name):
    """With H = 1 a 0-D b or h0 must not pass for shape (1,) (dh0 would have
    shape (1,), not h0's)."""
    args = {"x": np.zeros((2, 3, 1)), "W_xh": np.ones((1, 1)), "W_hh": np.ones((1, 1)),
            "b": np.zeros(1), "h0": np.zeros(1), "lengths": None, "activation": "tanh",
            "h": np.zeros((2, 3, 1)), "dh": np.ones((2, 3, 1))}
    args[name] = np.array(0.5)
    with pytest.raises(ValueError, match=rf"^{name} .*got \(\)"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
def test_hidden_size_mismatch_is_value_error(api, fn):
    """W_hh square but of another size than W_xh's columns."""
    args = with_arg(fn, "W_hh", np.eye(H + 1))
    with pytest.raises(ValueError, match=r"^W_(xh|hh) .*\(3, 8\).*\(3, 7\)"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("shape,message", [
    ((B + 1,), r"\(3,\).*got \(4,\)"), ((B, 1), r"\(3,\).*got \(3, 1\)"),
    ((), r"\(3,\).*got \(\)"), ((1,), r"\(3,\).*got \(1,\)"),
])
def test_lengths_wrong_shape_is_value_error(api, fn, shape, message):
    args = with_arg(fn, "lengths", np.full(shape, 2))
    with pytest.raises(ValueError, match=rf"^lengths must have shape {message}"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("x_shape", [(0, T, D), (B, 0, D), (0, 0, D)], ids=["B=0", "T=0", "both"])
def test_empty_batch_or_steps_is_value_error(api, fn, x_shape):
    args = with_arg(fn, "x", np.zeros(x_shape))
    args["h0"] = args["lengths"] = None
    args["h"] = args["dh"] = np.zeros(x_shape[:2] + (H,))
    with pytest.raises(ValueError, match=r"^x must hold at least one sequence"):
        run(api, fn, args)


# --- values ---------------------------------------------------------------

NONFINITE = [(np.nan, 0), (np.inf, -1), (-np.inf, "middle")]


@pytest.mark.parametrize("value,position", NONFINITE, ids=["nan_first", "inf_last", "-inf_middle"])
@pytest.mark.parametrize("fn,name", cases(FLOAT_ARGS, {n: [()] for n in FLOAT_ARGS})
                         + [(fn, "h0_shared") for fn in TAKES])
def test_nonfinite_is_value_error(api, dtype, fn, name, value, position):
    args = valid_args(dtype)
    if name == "h0_shared":
        name = "h0"
        args["h0"] = args["h0"][0].copy()
    flat = args[name].reshape(-1)
    flat[flat.size // 2 if position == "middle" else position] = value
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or inf"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("bad,index,int_dtype", [
    (bad, index, int_dtype)
    for bad, index in [(0, 0), (T + 1, -1), (-1, 1), (10**9, 0)]
    for int_dtype in (np.int64, np.int32, np.uint8, np.intp)
    if np.iinfo(int_dtype).min <= bad <= np.iinfo(int_dtype).max
])
def test_lengths_out_of_range_is_value_error(api, fn, bad, index, int_dtype):
    lengths = LENGTHS.astype(int_dtype)
    lengths[index] = bad
    args = with_arg(fn, "lengths", lengths)
    with pytest.raises(ValueError, match=rf"^lengths must lie in 1\.\.{T} .*got {bad}$"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("lengths", [
    LENGTHS.astype(np.float64), LENGTHS.astype(np.float32), [5.0, 2.0, 4.0],
    LENGTHS.astype(bool), LENGTHS.astype(object), LENGTHS.astype(np.complex64),
], ids=["float64", "float32", "float_list", "bool", "object", "complex"])
def test_lengths_not_integer_is_type_error(api, fn, lengths):
    args = with_arg(fn, "lengths", lengths)
    with pytest.raises(TypeError, match=r"^lengths must be an integer array"):
        run(api, fn, args)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("activation",
                         ["sigmoid", "Tanh", "tanh ", "", None, 0, b"tanh", ("tanh",)])
def test_bad_activation_is_value_error(api, fn, activation):
    args = with_arg(fn, "activation", activation)
    with pytest.raises(ValueError, match=r"^activation must be one of .*tanh.*relu"):
        run(api, fn, args)


# --- accepted inputs --------------------------------------------------------


def strided(a):
    """Same values, every other element of a larger buffer along the last axis."""
    buf = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    view = buf[..., ::2]
    view[...] = a
    return view


def reversed_strides(a):
    return np.flip(np.flip(a).copy())


def readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


LAYOUTS = {
    "strided": strided,
    "fortran": np.asfortranarray,
    "transposed": lambda a: a.T.copy().T,
    "reversed": reversed_strides,
    "readonly": readonly,
}
ARRAY_ARGS = ("x", "W_xh", "W_hh", "b", "h0", "lengths", "h", "dh")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fn,name", cases(ARRAY_ARGS, {n: [()] for n in ARRAY_ARGS}) + [
    ("forward", "all"), ("backward", "all")])
def test_any_layout_accepted(api, dtype, fn, name, layout):
    args = valid_args(dtype)
    expected = run(api, fn, args)
    names = TAKES[fn] if name == "all" else (name,)
    for n in names:
        args[n] = LAYOUTS[layout](args[n])
        if layout in ("strided", "reversed") or (layout in ("fortran", "transposed")
                                                 and args[n].ndim > 1):
            assert not args[n].flags.c_contiguous
    assert_same_result(run(api, fn, args), expected)


@pytest.mark.parametrize("fn", TAKES)
@pytest.mark.parametrize("x_dtype", [np.float16, np.float32])
def test_low_precision_x_converted_to_weights_dtype(api, fn, x_dtype):
    args = valid_args()
    args["x"] = args["x"].astype(x_dtype)
    expected = run(api, fn, {**args, "x": args["x"].astype(np.float64)})
    result = run(api, fn, args)
    assert all(a.dtype == np.float64 for a in outputs(result) if a is not None)
    assert_same_result(result, expected, rtol=0)


@pytest.mark.parametrize("fn", TAKES)
def test_float32_weights_set_computation_dtype(api, fn):
    """float64 x, b, h0, h and dh with float32 weights compute in float32."""
    args = valid_args()
    args["W_xh"] = args["W_xh"].astype(np.float32)
    args["W_hh"] = args["W_hh"].astype(np.float32)
    all32 = {k: v.astype(np.float32) if k in FLOAT_ARGS else v for k, v in args.items()}
    result = run(api, fn, args)
    assert all(a.dtype == np.float32 for a in outputs(result) if a is not None)
    assert_same_result(result, run(api, fn, all32), rtol=0)


@pytest.mark.parametrize("fn", TAKES)
def test_mixed_weight_dtypes_compute_in_float64(api, fn):
    args = valid_args()
    args["W_xh"] = args["W_xh"].astype(np.float32)
    expected = run(api, fn, {**args, "W_xh": args["W_xh"].astype(np.float64)})
    result = run(api, fn, args)
    assert all(a.dtype == np.float64 for a in outputs(result) if a is not None)
    assert_same_result(result, expected, rtol=0)


@pytest.mark.parametrize("fn", TAKES)
def test_nested_lists_accepted(api, fn):
    args = valid_args()
    expected = run(api, fn, args)
    lists = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in args.items()}
    assert_same_result(run(api, fn, lists), expected, rtol=0)


# --- the finiteness kernel ------------------------------------------------


@pytest.mark.parametrize("build", sorted(functional.KERNEL_MODULES))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_hook(build, dtype, bad):
    """Every position of every size up to a few vector widths (tails
    included), and the positions around the scan's blocks of 4096, in every
    build this machine runs."""
    # the validation layer's finiteness scan: its loss is a failure, not a skip
    module = functional.KERNEL_MODULES[build]
    assert hasattr(module, "_all_finite"), f"{module.__name__} has no _all_finite"
    all_finite = module._all_finite
    info = np.finfo(dtype)
    assert all_finite(np.array([info.max, -info.max, info.tiny, info.smallest_subnormal,
                                0.0, -0.0], dtype))
    for n in range(1, 40):
        a = (np.linspace(-1, 1, n) * info.max).astype(dtype)  # finite, extremes included
        assert all_finite(a)
        for i in range(n):
            b = a.copy()
            b[i] = bad
            assert not all_finite(b), (n, i)
    for n in (4095, 4096, 4097, 3 * 4096 + 5):
        a = np.linspace(-1, 1, n).astype(dtype)
        assert all_finite(a)
        for i in {0, 4095, 4096, 4097, n // 2, n - 1}:
            if i < n:
                b = a.copy()
                b[i] = bad
                assert not all_finite(b), (n, i)


# --- fuzz: malformed arguments never reach the kernels --------------------
#
# Each example takes a valid problem of random sizes, dtypes and memory
# layouts and breaks up to two of its arguments (shape, dtype, values). A
# valid problem must succeed; a broken one may succeed or raise TypeError or
# ValueError, but compiled and reference must agree, and nothing else (no
# other exception, no crash) may happen.

FUZZ_LAYOUTS = ["C", "fortran", "strided", "reversed", "readonly", "broadcast"]
GOOD_FLOAT_DTYPES = ["float64", "float32", "float16", ">f8", "<f4"]  # converted
GOOD_WEIGHT_DTYPES = ["float64", "float32"]
GOOD_INT_DTYPES = ["int64", "int32", "uint8", "intp", ">i8"]
BAD_FUZZ_DTYPES = ["int64", "int8", "uint8", "bool", "complex128", "object", "float16",
                   "longdouble"]


@st.composite
def fuzz_shape(draw, shape):
    """A shape other than `shape`, near it or not."""
    new = shape
    while new == shape:
        if draw(st.booleans()) or not shape:
            new = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
        else:
            i = draw(st.integers(0, len(shape) - 1))
            new = shape[:i] + (max(0, shape[i] + draw(st.sampled_from([-1, 1]))),) + shape[i + 1:]
    return new


def layout(name, a):
    if a.ndim == 0 or a.size == 0 or name == "C":
        return a
    if name == "broadcast":  # zero strides: the first row repeated
        return np.broadcast_to(a[:1], a.shape)
    return LAYOUTS[name](a)


@st.composite
def fuzz_array(draw, name, shape, steps, fault_kind=None):
    """Argument `name` of shape `shape`: valid, or broken in its "shape",
    "dtype" or "values" (fault_kind). Integers (lengths, ids) go up to `steps`."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = "int" if name in ("lengths", "ids") else "float"
    if fault_kind == "shape":
        shape = draw(fuzz_shape(shape))
    if kind == "int":
        low = 1 if name == "lengths" else 0  # lengths in 1..T, ids in 0..D-1
        a = np.asarray(rng.integers(low, steps + 1, size=shape))
        dtype = draw(st.sampled_from(GOOD_INT_DTYPES))
    else:
        a = np.asarray(0.5 * rng.standard_normal(shape))
        dtype = draw(st.sampled_from(GOOD_WEIGHT_DTYPES if name.startswith("W_")
                                     else GOOD_FLOAT_DTYPES))
    if fault_kind == "dtype":
        dtype = draw(st.sampled_from(BAD_FUZZ_DTYPES))
    if fault_kind == "values" and a.size:
        i = rng.integers(a.size)
        if kind == "int":
            a.reshape(-1)[i] = draw(st.sampled_from([-1, 0, steps + 1]))
        else:
            a.reshape(-1)[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if kind == "int" and np.dtype(dtype).kind == "u":
        a = np.abs(a)
    return layout(draw(st.sampled_from(FUZZ_LAYOUTS)), a.astype(dtype))


FAULTS = [(name, how) for name in ("x", "W_xh", "W_hh", "b", "h0", "lengths", "h", "dh")
          for how in ("shape", "dtype", "values")] + [("activation", "")]


@st.composite
def fuzz_args(draw):
    """(arguments, {name of a broken argument: how it is broken})."""
    # 0 to 2 broken arguments, mostly 1
    faults = dict(draw(st.sampled_from(FAULTS)) for _ in range(draw(st.sampled_from([1, 1, 0, 2]))))
    B, T, H = (draw(st.integers(1, 3)) for _ in range(3))
    D = draw(st.integers(0, 3))
    shapes = {"x": (B, T, D), "W_xh": (D, H), "W_hh": (H, H), "b": (H,),
              "h": (B, T, H), "dh": (B, T, H)}
    h0 = draw(st.sampled_from(["shared", "per_seq", None]))
    if h0 is not None or "h0" in faults:
        shapes["h0"] = (B, H) if h0 == "per_seq" else (H,)
    if draw(st.booleans()) or "lengths" in faults:
        shapes["lengths"] = (B,)
    ids = D > 0 and draw(st.integers(0, 4)) == 0  # x as integer ids (B, T)
    args = {"h0": None, "lengths": None}
    for name, shape in shapes.items():
        if name == "x" and ids:
            args[name] = draw(fuzz_array("ids", (B, T), D - 1, faults.get(name)))
        else:
            args[name] = draw(fuzz_array(name, shape, T, faults.get(name)))
    args["activation"] = "bogus" if "activation" in faults else draw(st.sampled_from(ACTS))
    return args, faults


ACTS = ["tanh", "relu"]


def outcome(call):
    """("ok", result) or (the exception type, message); anything else propagates."""
    try:
        return "ok", call()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


def assert_close_results(actual, expected):
    for a, e in zip(outputs(actual), outputs(expected), strict=True):
        if e is None:
            assert a is None
            continue
        assert a.shape == e.shape and a.dtype == e.dtype
        assert a.dtype in (np.float32, np.float64)
        if e.size:
            tol = 1e-4 if e.dtype == np.float32 else 1e-10
            assert np.abs(a.astype(float) - e).max() <= tol * max(np.abs(e).max(), 1.0)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(drawn=fuzz_args(), data=st.data())
def test_fuzz_never_crashes(kernel_configs, configure_kernels, drawn, data):
    args, faults = drawn
    config = data.draw(st.sampled_from(kernel_configs), label="path, build")
    for fn in TAKES:
        with configure_kernels(*config):
            got = outcome(lambda: run(fastrnn, fn, args))
        want = outcome(lambda: run(reference, fn, args))
        assert got[0] == want[0], (fn, got, want)
        if not any(name in TAKES[fn] or name == "activation" for name in faults):
            assert got[0] == "ok", (fn, got)
        if got[0] == "ok":
            assert_close_results(got[1], want[1])
        else:
            assert got[1] == want[1]


# --- index arrays are private to the call ---------------------------------

@pytest.mark.parametrize("int_dtype", [np.intp, np.int32, np.uint8])
def test_checked_ids_and_lengths_are_private_copies(int_dtype):
    """The kernels read the ids and lengths that were checked, never the
    caller's arrays (another thread could change those after the check),
    even when the caller's array already has the kernels' dtype and layout."""
    from fastrnn._validation import check_args

    rng = np.random.default_rng(0)
    V, H, B, T = 5, 3, 4, 6
    x = rng.integers(0, V, size=(B, T)).astype(int_dtype)
    lengths = np.array([6, 2, 5, 1], dtype=int_dtype)
    W_xh, W_hh, b = rng.standard_normal((V, H)), rng.standard_normal((H, H)), np.zeros(H)
    for backward in (False, True):
        extra = (rng.standard_normal((B, T, H)),) * 2 if backward else ()
        a = check_args(x, W_xh, W_hh, None if backward else b, None, "tanh", lengths,
                       *extra, backward=backward)
        assert a.ids.dtype == np.intp and a.ids.flags.c_contiguous
        assert not np.shares_memory(a.ids, x)
        assert not np.shares_memory(a.lengths, lengths)
        np.testing.assert_array_equal(a.ids, x)
        np.testing.assert_array_equal(a.lengths, lengths)


def test_huge_unsigned_ids_are_refused():
    """uint64 ids beyond intp's range do not wrap into a legal row."""
    W_xh, W_hh, b = np.zeros((4, 2)), np.zeros((2, 2)), np.zeros(2)
    x = np.array([[0, 2**64 - 4]], dtype=np.uint64)  # wraps to -4 as intp
    with pytest.raises(ValueError, match="integer ids"):
        fastrnn.forward(x, W_xh, W_hh, b)
    x = np.array([[0, 2**63 + 1]], dtype=np.uint64)
    with pytest.raises(ValueError, match="integer ids"):
        fastrnn.forward(x, W_xh, W_hh, b)
