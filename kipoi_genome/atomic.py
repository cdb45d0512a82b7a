"""Atomic file output: a partial file never replaces the destination."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output(path, mode=None, suffix=".tmp"):
    """Writes to a temporary file next to `path` and renames it on success.

    On any exception the temporary file is removed and `path` is untouched,
    so no half-written output is ever left behind.

    Args:
        path: str or os.PathLike. Final destination.
        mode: None to get the temporary path (for writers that open files
            themselves), or ``"w"`` / ``"wb"`` for an open file object.
        suffix: str. Suffix of the temporary name (e.g. ``".keras"``, which
            Keras requires).

    Yields:
        The temporary file's path (``mode=None``) or an open file object.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=directory)
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
