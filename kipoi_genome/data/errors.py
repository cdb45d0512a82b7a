"""Input-file errors with one-line, location-bearing messages."""

import os


def _shorten(value, limit=80):
    text = str(value).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class InputFileError(ValueError):
    """A bad input file, record or value, reported on one line.

    The message has the form ``FILE:LINE: problem (value 'X')``; ``:LINE`` is
    left out when the problem is not tied to a line (e.g. an empty file) and the
    value part is left out when there is no offending value.

    Args:
        path: str or os.PathLike. The file holding the bad input.
        line: int or None. 1-based line (or record) number, if known.
        problem: str. What is wrong, e.g. "contig not in FASTA".
        value: object, optional. The offending value, shown quoted and
            shortened to 80 characters (tabs and newlines escaped).

    Attributes:
        path, line, problem, value: the arguments above.
    """

    def __init__(self, path, line, problem, value=None):
        self.path = os.fspath(path) if path is not None else "<input>"
        self.line = line
        self.problem = problem
        self.value = value
        location = self.path if line is None else f"{self.path}:{line}"
        message = f"{location}: {problem}"
        if value is not None:
            message += f" (value '{_shorten(value)}')"
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.problem, self.value))


class RefMismatchError(InputFileError):
    """A variant whose REF allele disagrees with the reference FASTA."""


class DamagedFileError(InputFileError):
    """A truncated or corrupt compressed (gzip/bgzip) input file."""
