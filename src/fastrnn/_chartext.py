"""Text for the character models of the command line: the built-in training
text, reading a user's file, characters <-> ids, and the one-line user error
(:class:`CLIError`) of the ``fastrnn`` command."""

from __future__ import annotations

import numpy as np

from .io import NotRegularFile, open_regular_file

__all__ = ["CLIError", "DEFAULT_SOURCE", "default_text", "load_text", "encode", "decode",
           "unigram_entropy", "default_prime"]

DEFAULT_SOURCE = "Python's bundled documentation topics (pydoc_data.topics)"


class CLIError(Exception):
    """A user error: printed as one line ``fastrnn: error: <message>``."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(" ".join(str(message).split()))  # one line
        self.status = status


def default_text() -> str:
    """The built-in training text: the pydoc topics every CPython ships
    (about 465,000 characters of English and Python), in a fixed order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # pragma: no cover - Python builds without pydoc_data
        import importlib

        mods = ("argparse", "collections", "json", "pathlib", "re", "typing", "unittest")
        docs = (importlib.import_module(m).__doc__ or "" for m in mods)
        return "\n\n".join(d.strip() for d in docs if d) + "\n"
    return "\n\n".join(topics[k].strip() for k in sorted(topics)) + "\n"


def _open_regular(path):
    """An open binary file for path, which must be a regular file: a FIFO, a
    device or a socket is refused before anything is read (the open does not
    wait for a FIFO's writer), as fastrnn.load refuses them for a model."""
    try:
        return open_regular_file(path)[0]
    except NotRegularFile as exc:
        if exc.args[0] == "a directory":
            raise IsADirectoryError(path) from None
        raise CLIError(f"{path}: is {exc.args[0]}, not a text file (a regular file)") from None


def load_text(path: str | None) -> tuple[str, str]:
    """(text, description): the file's UTF-8 text, or the default text.

    Raises CLIError (one line) for a missing, unreadable, empty, binary or
    non-UTF-8 file, or one that is not a regular file (a directory, a FIFO,
    a device).
    """
    if path is None:
        return default_text(), DEFAULT_SOURCE
    try:
        with _open_regular(path) as f:
            data = f.read()
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a text file") from None
    except PermissionError:
        raise CLIError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not data.strip():
        raise CLIError(f"{path}: the file is empty" if not data else
                       f"{path}: the file holds only white space")
    if b"\0" in data[:1 << 20]:
        raise CLIError(f"{path}: looks like a binary file (it contains NUL bytes); "
                       "give a UTF-8 text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise CLIError(
            f"{path}: not UTF-8 text (byte 0x{bad:02x} at offset {exc.start}); "
            "convert it first, e.g. iconv -f latin1 -t utf-8") from None
    if "\0" in text:
        raise CLIError(f"{path}: looks like a binary file (it contains NUL bytes); "
                       "give a UTF-8 text file")
    return text, path


def _char_name(c: str) -> str:
    return f"{c!r} (U+{ord(c):04X})"


def encode(text: str, vocab: np.ndarray) -> np.ndarray:
    """Character ids (intp) of text in the sorted vocabulary (a '<U1' array);
    CLIError naming characters that are not in it, or for a text with a lone
    surrogate (a command-line argument with a byte that is not UTF-8)."""
    try:
        data = text.encode("utf-32-le")
    except UnicodeEncodeError as exc:
        c = ord(text[exc.start])
        if 0xDC80 <= c <= 0xDCFF:  # how Python keeps an undecodable byte of argv
            raise CLIError(f"not UTF-8 text (byte 0x{c - 0xDC00:02x} at character "
                           f"{exc.start})") from None
        raise CLIError(f"not valid text (a lone surrogate U+{c:04X} at character "
                       f"{exc.start})") from None
    codes = np.frombuffer(data, dtype=np.uint32)
    vcodes = np.array([ord(c) for c in vocab], dtype=np.uint32)
    ids = np.searchsorted(vcodes, codes)
    ids_c = np.minimum(ids, len(vcodes) - 1)
    unknown = vcodes[ids_c] != codes
    if unknown.any():
        missing = sorted({chr(c) for c in codes[unknown]})
        shown = ", ".join(_char_name(c) for c in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CLIError(f"the text has characters that the model does not know: "
                       f"{shown}{more}")
    return ids_c.astype(np.intp)


def unigram_entropy(ids: np.ndarray) -> float:
    """Entropy in bits of the character frequencies of ids (what a model that
    ignores all context can reach at best on them)."""
    counts = np.bincount(ids)
    p = counts[counts > 0] / ids.size
    return float(-(p * np.log2(p)).sum())


def default_prime(vocab) -> str:
    for c in ("\n", " "):
        if c in vocab:
            return c
    return str(vocab[0])


def decode(vocab, ids) -> str:
    return "".join(vocab[ids].tolist())

