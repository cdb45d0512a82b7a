"""Opening plain or gzip/bgzip text files, and atomic writes."""

import gzip
import os

from kipoi_genome.atomic import atomic_output  # noqa: F401  (re-exported)
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
