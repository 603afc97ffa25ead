"""The fastrnn model file: an ``.npz`` archive that is read without unpickling.

Layout (format version 1), every member a plain NumPy array:

================  =============================================================
``fastrnn``        0-d unicode array ``"fastrnn model"``: marks the file
``format_version`` 0-d int64 array, :data:`FORMAT_VERSION`
``estimator``      0-d unicode array, the class name (``"RNNRegressor"``, ...)
``hyperparameters`` 0-d unicode array: JSON object of ``get_params()``
``attributes``     0-d unicode array: JSON object of the scalar and list fitted
                   attributes (``n_iter_``, ``loss_curve_``, ...)
``W_xh_``, ...     the weight arrays, under their attribute names
``classes_``       (classifiers) numbers, booleans or unicode strings
================  =============================================================

:func:`write_model` and :func:`read_model` only move these pieces to and from
disk and check the container; the estimators check that the pieces fit
together (:func:`fastrnn.load`). :func:`read_model` uses
``np.load(..., allow_pickle=False)``, so a file with object arrays is refused
instead of being unpickled, and every problem with the file (truncated, not an
archive, not a fastrnn model, another format version, missing or malformed
members) is a ``ValueError`` that says what is wrong.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib

import numpy as np

__all__ = ["FORMAT_VERSION", "MAGIC", "write_model", "read_model"]

FORMAT_VERSION = 1
MAGIC = "fastrnn model"
_HEADER_KEYS = ("fastrnn", "format_version", "estimator", "hyperparameters", "attributes")


def _describe(path):
    return repr(os.fspath(path)) if isinstance(path, (str, bytes, os.PathLike)) else "the file"


def write_model(path, estimator_name, hyperparameters, attributes, arrays):
    """Write a model file.

    Parameters
    ----------
    path : str, path-like or writable binary file
        Written exactly there (no ``.npz`` is appended).
    estimator_name : str
    hyperparameters, attributes : dict
        JSON-serializable.
    arrays : dict of str to ndarray
        Numeric, boolean or unicode arrays (no object arrays).
    """
    members = {
        "fastrnn": np.array(MAGIC),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "estimator": np.array(estimator_name),
        "hyperparameters": np.array(json.dumps(hyperparameters, allow_nan=False)),
        "attributes": np.array(json.dumps(attributes)),
    }
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biufU":
            raise ValueError(
                f"cannot save {name} with dtype {arr.dtype}: a fastrnn model file holds "
                "only numeric, boolean and unicode-string arrays (it is read without pickle)"
            )
        members[name] = arr
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "wb") as f:
            np.savez(f, **members)
    else:
        np.savez(path, **members)


def read_model(path):
    """Read and check the container of a model file.

    Returns
    -------
    estimator_name : str
    hyperparameters : dict
    attributes : dict
    arrays : dict of str to ndarray
        Every other member.

    Raises
    ------
    ValueError
        When the file cannot be read as an ``.npz`` archive (truncated,
        corrupt, another format), holds pickled objects, is not a fastrnn
        model, has another format version, or lacks or garbles a header member.
    FileNotFoundError
        When there is no such file.
    """
    where = _describe(path)
    if isinstance(path, (str, bytes, os.PathLike)):
        # Open the file here: np.load leaks its own handle when the zip
        # directory cannot be read.
        with open(path, "rb") as f:
            members, files = _read_members(f, where)
    else:
        members, files = _read_members(path, where)
    if "fastrnn" not in files:
        raise ValueError(
            f"{where} is an .npz archive but not a fastrnn model file "
            f"(it has no 'fastrnn' member; its members are {sorted(files)[:10]})"
        )

    magic = members["fastrnn"]
    if magic.shape != () or magic.dtype.kind != "U" or str(magic) != MAGIC:
        raise ValueError(f"{where} is not a fastrnn model file (bad 'fastrnn' marker)")
    for key in _HEADER_KEYS:
        if key not in members:
            raise ValueError(f"{where}: fastrnn model file lacks the {key!r} member")
    version = members.pop("format_version")
    if version.shape != () or version.dtype.kind not in "iu":
        raise ValueError(f"{where}: malformed 'format_version' member")
    if int(version) != FORMAT_VERSION:
        raise ValueError(
            f"{where} has fastrnn model format version {int(version)}; this fastrnn "
            f"reads version {FORMAT_VERSION} only"
        )
    del members["fastrnn"]
    name = _string_member(where, members.pop("estimator"), "estimator")
    hyper = _json_member(where, members.pop("hyperparameters"), "hyperparameters")
    attrs = _json_member(where, members.pop("attributes"), "attributes")
    return name, hyper, attrs, members


def _read_members(f, where):
    """All members of the .npz archive in the open file f (none when it has no
    'fastrnn' member), and the list of member names."""
    try:
        npz = np.load(f, allow_pickle=False)
    except ValueError as exc:
        # np.load refuses anything that is neither .npy nor .npz rather than
        # unpickling it.
        raise ValueError(
            f"{where} is not a fastrnn model file (not an .npz archive: {exc})"
        ) from exc
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise ValueError(
            f"{where} is not a readable fastrnn model file: it is truncated or "
            f"corrupt ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{where} is a single .npy array, not a fastrnn model file (.npz)")
    members = {}
    try:
        with npz:
            files = list(npz.files)
            if "fastrnn" in files:
                for name in files:
                    members[name] = npz[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(
                f"{where} holds pickled objects; a fastrnn model file never does, and "
                "fastrnn.load does not unpickle"
            ) from exc
        raise ValueError(
            f"{where} is not a readable fastrnn model file: it is truncated or corrupt "
            f"({exc})"
        ) from exc
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError) as exc:
        raise ValueError(
            f"{where} is not a readable fastrnn model file: it is truncated or corrupt "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return members, files


def _string_member(where, arr, key):
    if arr.shape != () or arr.dtype.kind != "U":
        raise ValueError(f"{where}: member {key!r} must be a unicode string")
    return str(arr)


def _json_member(where, arr, key):
    text = _string_member(where, arr, key)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: member {key!r} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{where}: member {key!r} must be a JSON object")
    return value
