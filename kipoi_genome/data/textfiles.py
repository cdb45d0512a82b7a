"""Opening plain or gzip/bgzip text files, and atomic writes."""

import contextlib
import gzip
import os
import tempfile

from kipoi_genome.data.errors import InputFileError


def _is_gzip(path):
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_text(path, kind="file"):
    """Opens a plain or gzip/bgzip-compressed text file for reading.

    Args:
        path: str or os.PathLike.
        kind: str. What the file is, for error messages (e.g. "BED").

    Returns:
        A text-mode file object (UTF-8).

    Raises:
        InputFileError: if the file is missing or empty.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputFileError(path, None, f"{kind} file not found")
    if os.path.getsize(path) == 0:
        raise InputFileError(path, None, f"empty {kind} file")
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, "rt", encoding="utf-8", newline="")


def read_line(path, line_number):
    """Returns line `line_number` (1-based) of a text file, without its newline, or None."""
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if number == line_number:
                    return line.rstrip("\r\n")
    except (OSError, UnicodeDecodeError, InputFileError):
        return None
    return None


@contextlib.contextmanager
def atomic_output(path, mode="wb"):
    """Writes to a temporary file next to `path` and renames it on success.

    On any exception the temporary file is removed and `path` is untouched,
    so no half-written output is ever left behind.

    Args:
        path: str or os.PathLike. Final destination.
        mode: str. ``"wb"`` or ``"w"``.

    Yields:
        The temporary file's path (``mode=None``) or an open file object.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        if mode is None:
            os.close(fd)
            yield tmp
        else:
            with os.fdopen(fd, mode) as handle:
                yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
