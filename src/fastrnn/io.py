"""The fastrnn model file: an ``.npz`` archive that is read without unpickling,
and never trusted before it is checked.

Layout (format version 3), every member a plain ``.npy`` array:

========================  =====================================================
``fastrnn``                0-d unicode array ``"fastrnn model"``: marks the file
``format_version``         0-d int64 array, :data:`FORMAT_VERSION`
``estimator``              0-d unicode array, the class name (``"RNNRegressor"``, ...)
``hyperparameters``        0-d unicode array: JSON object of ``get_params()``
``attributes``             0-d unicode array: JSON object of the scalar fitted
                           attributes, the optimizer's description (name, step
                           count, hyperparameters, which state arrays exist) and
                           the state of the shuffling random generator
``W_xh_``, ...             the weight arrays, under their attribute names
``loss_curve_``, ...       float64 vectors (``validation_scores_`` too)
``classes_``               (classifiers) numbers, booleans or unicode strings
``optimizer.<slot>.<p>``   the optimizer's state arrays (``optimizer.m.W_hh_``):
                           the shape and dtype of the parameter ``<p>``
========================  =====================================================

Version 3 added the ``autoscale`` hyperparameter and the attributes
``input_scale_log2`` and (regressors) ``target_scale_log2``, the exponents of
the powers of two the data were scaled by in training; version 2 files load
with ``autoscale=False`` and no scales, which is how they were trained.
Version 1 had no optimizer or generator state and kept ``loss_curve_`` and
``validation_scores_`` as JSON lists; it is still read (the estimator layer
warns that the optimizer starts afresh).

Reading is two steps, so that nothing is decompressed or allocated before it
is checked against what the model's own metadata implies:

1. :class:`ModelReader` opens the file (a regular file only: a FIFO, a
   device, a directory or a symbolic-link loop is refused without blocking),
   checks the zip directory (its size, the member names, each member's
   compression) and reads the small header members (their declared sizes
   capped), parsing their JSON with the nesting depth caught;
2. the caller (:func:`fastrnn.load`) works out which arrays the model must
   hold and calls :meth:`ModelReader.read_arrays` with an :class:`ArraySpec`
   for each. A member that is not expected, or whose declared uncompressed
   size or ``.npy`` header (shape, dtype) disagrees with its spec, is refused
   before any of its data is read; data are read in bounded chunks into an
   array of exactly the expected size.

Every problem with the file is a :class:`ModelFileError` (a ``ValueError``)
whose message names the file and the problem. Writing (:func:`write_model`
on a path) is atomic: see :func:`atomic_write`.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as _npy

__all__ = [
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MAGIC",
    "ModelFileError",
    "ModelFileWarning",
    "ArraySpec",
    "ModelReader",
    "write_model",
    "atomic_write",
]

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MAGIC = "fastrnn model"
_HEADER_KEYS = ("fastrnn", "format_version", "estimator", "hyperparameters", "attributes")

# Bounds on what is read before the model's metadata says what to expect.
MAX_MEMBERS = 4096                     # (a stack of 11 bidirectional layers with Adam has 276)
MAX_DIRECTORY_BYTES = 1 << 20          # the zip central directory
MAX_NPY_HEADER = 10_000                # numpy's own default max_header_size
MAX_JSON_CHARS = 1 << 18               # hyperparameters, attributes (format 2)
MAX_V1_ATTRIBUTE_CHARS = 1 << 24       # format 1 kept the loss curve in JSON
_DEFLATE_MAX_RATIO = 1032              # deflate never expands data more than this
_CHUNK = 1 << 20
_MEMBER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,99}\.npy")


class ModelFileError(ValueError):
    """A file that :func:`fastrnn.load` cannot read as a fastrnn model.

    Raised for every problem with the file: missing or unreadable (then also a
    ``FileNotFoundError`` or ``PermissionError``), not a regular file, not a
    model, truncated or corrupt, another format version, or contents that do
    not fit together. The message names the file and the problem.
    """


class ModelFileWarning(UserWarning):
    """A model file that loads, but not completely (format version 1: no
    optimizer state, so training continues with a fresh optimizer)."""


def _os_error(exc, message):
    """A ModelFileError that is also the OSError subclass of exc (missing
    file, permission denied), so that callers may catch either."""
    base = type(exc) if isinstance(exc, (FileNotFoundError, PermissionError)) else None
    if base is None:
        return ModelFileError(message)
    cls = _OS_ERRORS[base]
    err = cls(message)
    err.errno, err.strerror, err.filename = exc.errno, exc.strerror, exc.filename
    return err


class _MissingModelFile(ModelFileError, FileNotFoundError):
    __str__ = ValueError.__str__


class _DeniedModelFile(ModelFileError, PermissionError):
    __str__ = ValueError.__str__


_OS_ERRORS = {FileNotFoundError: _MissingModelFile, PermissionError: _DeniedModelFile}


def _describe(path):
    return repr(os.fspath(path)) if isinstance(path, (str, bytes, os.PathLike)) else "the file"


def _is_path(x):
    return isinstance(x, (str, bytes, os.PathLike))


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def write_model(path, estimator_name, hyperparameters, attributes, arrays):
    """Write a model file (format :data:`FORMAT_VERSION`).

    Parameters
    ----------
    path : str, path-like or writable binary file
        Written exactly there (no ``.npz`` is appended). A path is written
        atomically (:func:`atomic_write`).
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
        "attributes": np.array(json.dumps(attributes, allow_nan=False)),
    }
    for key in ("hyperparameters", "attributes"):
        if members[key].size and len(str(members[key])) > MAX_JSON_CHARS:
            raise ValueError(f"cannot save: the {key} take more than {MAX_JSON_CHARS} "
                             "characters of JSON")
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biufU":
            raise ValueError(
                f"cannot save {name} with dtype {arr.dtype}: a fastrnn model file holds "
                "only numeric, boolean and unicode-string arrays (it is read without pickle)"
            )
        if not _MEMBER_NAME.fullmatch(name + ".npy") or name in _HEADER_KEYS:
            raise ValueError(f"cannot save an array named {name!r}")  # pragma: no cover
        members[name] = np.ascontiguousarray(arr)
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"cannot save: the model has {len(members)} arrays; a fastrnn "
                         f"model file holds at most {MAX_MEMBERS}")
    if _is_path(path):
        atomic_write(path, lambda f: np.savez(f, **members))
    else:
        np.savez(path, **members)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or cannot tell
        return True
    return True


def _remove_stale_temps(directory, name):
    """Remove ``.{name}.<pid>.tmp`` and ``.{name}.<pid>.<thread>.tmp`` files
    of processes that no longer exist (left by a save that was killed)."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.([0-9]{1,10})(?:\.[0-9]{1,20})?\.tmp")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Write a file so that readers see either the old or the new one, whole.

    ``write(f)`` writes into ``.{name}.{pid}.{thread}.tmp``, an open binary file in the
    same directory; the file is flushed and ``os.fsync``-ed, renamed over
    ``path`` with ``os.replace``, and the directory is fsync-ed. On any
    failure (an exception, ``KeyboardInterrupt``) the temporary file is
    removed and ``path`` is left as it was; temporary files of the same name
    left by processes that no longer exist (a save killed with SIGKILL or a
    power loss) are removed by the next save of the same path.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    directory, name = os.path.split(path)
    directory = directory or "."
    _remove_stale_temps(directory, name)
    # one temporary file per process and thread: saves of the same path from
    # two threads never write into each other's file
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                     0o666)
        with open(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ArraySpec:
    """What a member must be: its shape and either an exact dtype (either byte
    order) or a set of dtype kinds with a largest item size."""

    shape: tuple
    dtype: np.dtype | None = None
    kinds: str = ""
    max_itemsize: int = 0

    def max_nbytes(self):
        itemsize = self.dtype.itemsize if self.dtype is not None else self.max_itemsize
        return math.prod(self.shape) * itemsize

    def accepts(self, dtype):
        if dtype.fields is not None or dtype.subdtype is not None:
            return False
        if self.dtype is not None:
            return dtype.newbyteorder("=") == self.dtype
        return dtype.kind in self.kinds and dtype.itemsize <= self.max_itemsize

    def describe(self):
        shape = "(" + ", ".join(map(str, self.shape)) + ("," if len(self.shape) == 1 else "") + ")"
        if self.dtype is not None:
            return f"{self.dtype.name} with shape {shape}"
        kinds = {"b": "bool", "i": "int", "u": "uint", "f": "float", "U": "unicode"}
        return (f"{'/'.join(kinds.get(k, k) for k in self.kinds)} (items of at most "
                f"{self.max_itemsize} bytes) with shape {shape}")


def _shape_text(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


class _Counting:
    """A read-only file wrapper that counts the bytes read (the .npy header)."""

    def __init__(self, f):
        self.f = f
        self.n = 0

    def read(self, size=-1):
        data = self.f.read(size)
        self.n += len(data)
        return data


class NotRegularFile(Exception):
    """Raised by :func:`open_regular_file`: args[0] says what the path is
    instead ("a directory", "a FIFO (named pipe)", "a socket", "a device"
    or "not a regular file")."""


def open_regular_file(path):
    """(an open binary file, its size) for path, which must be a regular file:
    anything else raises NotRegularFile before a byte is read, and the open
    never waits (for a FIFO's writer, say). os.open's OSErrors propagate.
    fastrnn.load's model files and fastrnn train's text files are read so."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(
                "a directory" if stat.S_ISDIR(st.st_mode) else
                "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a regular file")
        return open(fd, "rb", closefd=True), st.st_size
    except BaseException:
        os.close(fd)
        raise


def _open_regular(path, where):
    """An open binary model file for path, which must be a regular file; never blocks."""
    try:
        return open_regular_file(path)
    except NotRegularFile as exc:
        raise ModelFileError(f"{where} is {exc.args[0]}, not a fastrnn model file "
                             "(a regular file)") from None
    except FileNotFoundError as exc:
        raise _os_error(exc, f"{where}: no such file") from None
    except PermissionError as exc:
        raise _os_error(exc, f"{where}: permission denied") from None
    except IsADirectoryError:
        raise ModelFileError(f"{where} is a directory, not a fastrnn model file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelFileError(
                f"{where}: too many levels of symbolic links (a symbolic-link loop)"
            ) from None
        raise ModelFileError(f"{where}: cannot open it ({exc.strerror or exc})") from None


_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def _check_directory(f, size, where):
    """Check the end-of-central-directory record before zipfile reads the
    directory: at most MAX_MEMBERS entries and MAX_DIRECTORY_BYTES."""
    not_zip = ModelFileError(
        f"{where} is not a fastrnn model file (not an .npz archive, or a truncated one)")
    if size < _EOCD.size:
        raise not_zip
    tail_len = min(size, _EOCD.size + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    if len(tail) != tail_len:
        raise not_zip
    if tail[-_EOCD.size:-_EOCD.size + 4] == b"PK\x05\x06":
        pos = tail_len - _EOCD.size
    else:
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or pos + _EOCD.size > tail_len:
            raise not_zip
    rec = _EOCD.unpack_from(tail, pos)
    entries, dir_size = rec[4], rec[5]
    if entries == 0xFFFF or dir_size == 0xFFFFFFFF:
        loc_at = size - tail_len + pos - _ZIP64_LOCATOR.size
        if loc_at < 0:
            raise not_zip
        f.seek(loc_at)
        loc = f.read(_ZIP64_LOCATOR.size)
        if len(loc) == _ZIP64_LOCATOR.size and loc[:4] == b"PK\x06\x07":
            off = _ZIP64_LOCATOR.unpack(loc)[2]
            if off + _ZIP64_EOCD.size > size:
                raise not_zip
            f.seek(off)
            z = f.read(_ZIP64_EOCD.size)
            if len(z) != _ZIP64_EOCD.size or z[:4] != b"PK\x06\x06":
                raise not_zip
            z = _ZIP64_EOCD.unpack(z)
            entries, dir_size = z[6], z[7]
    if entries > MAX_MEMBERS:
        raise ModelFileError(f"{where}: the archive has {entries} members; a fastrnn model "
                             f"file has at most {MAX_MEMBERS}")
    if dir_size > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"{where}: the archive's directory takes {dir_size} bytes; a "
                             f"fastrnn model file's takes at most {MAX_DIRECTORY_BYTES}")
    f.seek(0)


_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
            struct.error, NotImplementedError, RuntimeError, ValueError, OverflowError,
            UnicodeDecodeError, SyntaxError, TypeError, KeyError)


class ModelReader:
    """The checked container of a model file (step 1 of reading; see the module).

    Parameters
    ----------
    source : str, path-like or readable, seekable binary file

    Attributes
    ----------
    version : int
        The format version (one of :data:`READABLE_VERSIONS`).
    estimator : str
    hyperparameters, attributes : dict
    names : set of str
        The names of the array members (not the header).

    Use as a context manager; :meth:`read_arrays` is step 2.
    """

    def __init__(self, source):
        self.where = _describe(source)
        self._file = None
        self._zip = None
        try:
            self._open(source)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for obj in (self._zip, self._file):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing a read-only file
                    pass
        self._zip = self._file = None

    def _error(self, problem):
        return ModelFileError(f"{self.where}: {problem}")

    def _corrupt(self, exc):
        return ModelFileError(
            f"{self.where} is not a readable fastrnn model file: it is truncated or corrupt "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")

    def _open(self, source):
        where = self.where
        if _is_path(source):
            self._file, size = _open_regular(source, where)
            f = self._file
        else:
            f = source
            try:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(0)
            except (AttributeError, OSError, ValueError) as exc:
                raise ModelFileError(
                    f"{where}: a model must be read from a seekable file ({exc})") from None
        self._size = size
        try:
            _check_directory(f, size, where)
            self._zip = zipfile.ZipFile(f)
            infos = self._zip.infolist()
        except ModelFileError:
            raise
        except zipfile.BadZipFile:
            raise ModelFileError(
                f"{where} is not a fastrnn model file (not an .npz archive, or a truncated "
                "one)") from None
        except _CORRUPT as exc:
            raise self._corrupt(exc) from None
        members = {}
        for info in infos:
            name = info.filename
            if not _MEMBER_NAME.fullmatch(name) or name in members:
                if name.endswith(".npy") or name in members:
                    problem = f"unexpected member {name[:100]!r}"
                else:
                    problem = f"member {name[:100]!r} is not .npy data"
                raise ModelFileError(f"{where} is not a fastrnn model file ({problem})")
            members[name] = info
        self._members = members
        names = {n[:-4] for n in members}
        if "fastrnn" not in names:
            raise ModelFileError(
                f"{where} is an .npz archive but not a fastrnn model file (it has no "
                f"'fastrnn' member; its members are {sorted(names)[:10]})")
        magic = self._read_string("fastrnn", 64, f"{where} is not a fastrnn model file "
                                                 "(bad 'fastrnn' marker)")
        if magic != MAGIC:
            raise ModelFileError(f"{where} is not a fastrnn model file (bad 'fastrnn' marker)")
        for key in _HEADER_KEYS:
            if key not in names:
                raise self._error(f"fastrnn model file lacks the {key!r} member")
        version = self._read("format_version", ArraySpec((), kinds="iu", max_itemsize=8),
                             bad="malformed 'format_version' member")
        version = int(version)
        if version not in READABLE_VERSIONS:
            raise ModelFileError(
                f"{where} has fastrnn model format version {version}; this fastrnn reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}")
        self.version = version
        self.estimator = self._read_string("estimator", 256)
        self.hyperparameters = self._read_json("hyperparameters", MAX_JSON_CHARS)
        self.attributes = self._read_json(
            "attributes", MAX_JSON_CHARS if version >= 2 else MAX_V1_ATTRIBUTE_CHARS)
        self.names = names - set(_HEADER_KEYS)

    def _read_string(self, key, max_chars, bad=None):
        spec = ArraySpec((), kinds="U", max_itemsize=4 * max_chars)
        arr = self._read(key, spec, bad=bad or f"member {key!r} must be a unicode string "
                                                f"of at most {max_chars} characters")
        try:
            return str(arr)
        except ValueError:  # code points beyond U+10FFFF
            raise self._error(bad or f"member {key!r} is not a valid unicode string") from None

    def _read_json(self, key, max_chars):
        text = self._read_string(key, max_chars)
        try:
            value = json.loads(text)
        except RecursionError:
            raise self._error(f"member {key!r} nests its JSON too deeply") from None
        except ValueError as exc:  # JSONDecodeError, too many digits
            raise self._error(f"member {key!r} is not valid JSON "
                              f"({' '.join(str(exc).split())[:200]})") from None
        if not isinstance(value, dict):
            raise self._error(f"member {key!r} must be a JSON object")
        return value

    def read_arrays(self, specs):
        """Step 2: read exactly the members in specs (name to :class:`ArraySpec`).

        Raises :class:`ModelFileError` when the file has a member that is not
        in specs, lacks one, or holds one that does not match its spec; all
        names are checked before any array is read, and each member's
        declared size and header before its data.
        """
        extra = sorted(self.names - set(specs))
        if extra:
            raise self._error(f"unexpected members {extra[:10]}")
        missing = [k for k in specs if k not in self.names]
        if missing:
            raise self._error(f"missing member{'s' * (len(missing) > 1)} "
                              f"{', '.join(map(repr, missing))}")
        return {key: self._read(key, spec) for key, spec in specs.items()}

    def _read(self, key, spec, bad=None):
        """One member, checked against spec before its data are read."""
        info = self._members[key + ".npy"]

        def wrong(got):
            if bad is not None:
                return self._error(bad)
            return self._error(f"{key} must be {spec.describe()}, got {got}")

        limit = MAX_NPY_HEADER + 16 + spec.max_nbytes()
        if info.file_size > limit:
            raise wrong(f"a member of {info.file_size:,} bytes (at most {limit:,} expected)")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise self._error(f"member {key!r}: stored sizes disagree")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 64:
                raise self._error(f"member {key!r} declares more data than its "
                                  "compressed size can hold")
        else:
            raise self._error(f"member {key!r} uses compression method "
                              f"{info.compress_type}; a model file is stored or deflated")
        if info.header_offset + info.compress_size > self._size:
            raise self._error(f"member {key!r} extends past the end of the file (truncated?)")
        try:
            with self._zip.open(info) as raw:
                m = _Counting(raw)
                try:
                    version = _npy.read_magic(m)
                except ValueError:
                    raise self._error(f"member {key!r} is not .npy data") from None
                if version == (1, 0):
                    shape, fortran, dtype = _npy.read_array_header_1_0(
                        m, max_header_size=MAX_NPY_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = _npy.read_array_header_2_0(
                        m, max_header_size=MAX_NPY_HEADER)
                else:
                    raise self._error(f"member {key!r} has .npy version {version}; a model "
                                      "file uses 1.0 or 2.0")
                if dtype.hasobject:
                    raise self._error(
                        f"member {key!r} holds pickled objects; a fastrnn model file never "
                        "does, and fastrnn.load does not unpickle")
                if not spec.accepts(dtype) or tuple(shape) != tuple(spec.shape):
                    raise wrong(f"{dtype} with shape {_shape_text(shape)}")
                nbytes = math.prod(shape) * dtype.itemsize
                if info.file_size != m.n + nbytes:
                    raise self._error(
                        f"member {key!r} holds {info.file_size - m.n:,} bytes of data; its "
                        f"header ({dtype}, shape {_shape_text(shape)}) needs {nbytes:,}")
                if fortran and len(shape) > 1:
                    arr = np.empty(tuple(shape)[::-1], dtype=dtype)
                    self._fill(raw, arr, key)
                    arr = np.ascontiguousarray(arr.T)
                else:
                    arr = np.empty(shape, dtype=dtype)
                    self._fill(raw, arr, key)
                if raw.read(1):
                    raise self._error(f"member {key!r} holds more data than it declares")
        except ModelFileError:
            raise
        except _CORRUPT as exc:
            raise self._corrupt(exc) from None
        if not dtype.isnative and dtype.itemsize > 1:
            arr.byteswap(inplace=True)
            arr = arr.view(dtype.newbyteorder("="))
        return arr

    def _fill(self, f, arr, key):
        if not arr.nbytes:
            return
        view = memoryview(arr.reshape(-1).view(np.uint8))
        pos, total = 0, view.nbytes
        while pos < total:
            chunk = f.read(min(_CHUNK, total - pos))
            if not chunk:
                raise self._error(f"member {key!r} ends early (truncated)")
            view[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
