"""Opening plain or gzip/bgzip text files, with damage reported as one-line errors."""

import gzip
import os
import struct
import zlib

from kipoi_genome.data.errors import DamagedFileError, InputFileError

# What Python's gzip module and Biopython's bgzf raise on truncated or corrupt
# compressed data (a short header, a bad block, a missing end of stream).
DECOMPRESSION_ERRORS = (EOFError, zlib.error, struct.error, gzip.BadGzipFile)


def decompression_error(path, error, kind="file", line=None):
    """The one-line `InputFileError` for truncated or corrupt gzip/bgzip data.

    Args:
        path: str. The compressed file.
        error: Exception. One of `DECOMPRESSION_ERRORS` (or Biopython's
            ValueError for a bad BGZF block).
        kind: str. What the file is (e.g. "FASTA").
        line: int or None. The line being read when the data ran out.

    Returns:
        DamagedFileError (an InputFileError), to raise.
    """
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DamagedFileError(path, line, f"{kind} file is truncated or corrupt (gzip/bgzip: {detail})")


def _is_gzip(path):
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _check_file(path, kind):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputFileError(path, None, f"{kind} file not found")
    if os.path.getsize(path) == 0:
        raise InputFileError(path, None, f"empty {kind} file")
    return path


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
    path = _check_file(path, kind)
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, "rt", encoding="utf-8", newline="")


def iter_lines(path, kind="file"):
    """Yields the lines of a plain or gzip/bgzip text file, checked as they are read.

    Lines are split at ``\\n`` and decoded one by one, so a decoding problem is
    reported at its own line; ``\\r\\n`` endings are accepted.

    Args:
        path: str or os.PathLike.
        kind: str. What the file is, for error messages (e.g. "VCF").

    Yields:
        `(number, text)`: the 1-based line number and the line without its
        line end.

    Raises:
        InputFileError: if the file is missing or empty, a line is not UTF-8
            (binary data), or the compressed data is truncated or corrupt,
            naming the file and line.
    """
    path = _check_file(path, kind)
    number = 0
    with (gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as handle:
        try:
            for raw in handle:
                number += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputFileError(
                        path, number, f"{kind} file is not UTF-8 text (binary data?)",
                        raw[:40].decode("utf-8", "backslashreplace"),
                    ) from None
                yield number, text.rstrip("\r\n")
        except DECOMPRESSION_ERRORS as error:
            raise decompression_error(path, error, kind, number + 1) from None


def check_compressed(path, kind="file"):
    """Raises the `decompression_error` of a damaged gzip/bgzip file; plain files pass.

    Damaged deflate data can inflate to garbage lines before the member's CRC
    check fails, so a reader that finds a malformed line in a compressed file
    calls this first, to blame the damage rather than the garbage.

    Args:
        path: str. The file.
        kind: str. What the file is (e.g. "VCF").

    Raises:
        DamagedFileError: if the compressed stream is truncated or corrupt.
    """
    if not os.path.isfile(path) or not _is_gzip(path):
        return
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except DECOMPRESSION_ERRORS as error:
        raise decompression_error(path, error, kind) from None
