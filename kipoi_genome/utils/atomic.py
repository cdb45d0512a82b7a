"""Atomic file output: a partial file never replaces the destination.

The temporary file lives next to the output (so the final rename stays on one
filesystem) under a recognisable name,
``.NAME.kipoi-genome-partial.HOST.PID.XXXXXXXX SUFFIX``. It is removed on any
exception, KeyboardInterrupt and (through the CLI's signal handlers) SIGTERM;
after a SIGKILL, the next write to the same path removes the ones whose
process is gone. The finished file gets the permissions `open` would give
it: those of the file it replaces, else ``0o666 & ~umask``.
"""

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile

_PARTIAL = "kipoi-genome-partial"


def current_umask():
    """The process's umask, read without changing it where Linux allows.

    Returns:
        int, e.g. ``0o022``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def _host():
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"


def _partial_prefix(path):
    return f".{os.path.basename(path)}.{_PARTIAL}."


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


def remove_stale_partials(path):
    """Removes temporary files of earlier writes to `path` whose process is gone.

    Only names written by `atomic_output` on this host are considered; those
    of live processes (including this one) are kept.

    Args:
        path: str or os.PathLike. The output path.

    Returns:
        list of str. The removed paths.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _partial_prefix(path)
    host = _host()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split(".", 2)
        if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _process_exists(pid):
            continue
        stale = os.path.join(directory, name)
        _remove(stale)
        removed.append(stale)
    return removed


def _final_mode(path, tmp):
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        base = 0o777 if os.path.isdir(tmp) else 0o666
        return base & ~current_umask()


@contextlib.contextmanager
def atomic_output(path, mode=None, suffix=".tmp"):
    """Writes to a temporary file next to `path` and renames it on success.

    On any exception the temporary file is removed and `path` is untouched,
    so no half-written output is ever left behind. The output is checked
    before anything is written: a directory, or a folder where no file can
    be created, raises at once.

    Args:
        path: str or os.PathLike. Final destination.
        mode: None to get the temporary path (for writers that open files
            themselves), or ``"w"`` / ``"wb"`` for an open file object.
        suffix: str. Suffix of the temporary name (e.g. ``".keras"``, which
            Keras requires).

    Yields:
        The temporary file's path (``mode=None``) or an open file object.

    Raises:
        IsADirectoryError: `path` is a directory.
        OSError: the folder cannot be created or written (the error's
            filename is `path`).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory; the output must be a file name", path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder should be
        raise NotADirectoryError(
            errno.ENOTDIR, "Not a directory (a file is in the way of the output's folder)", path
        ) from None
    remove_stale_partials(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f"{_partial_prefix(path)}{_host()}.{os.getpid()}.", suffix=suffix, dir=directory
        )
    except OSError as error:
        raise type(error)(
            error.errno, f"{error.strerror} (cannot create a file in {directory})", path
        ) from None
    try:
        if mode is None:
            os.close(fd)
            yield tmp
        else:
            with os.fdopen(fd, mode) as handle:
                yield handle
        os.chmod(tmp, _final_mode(path, tmp))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
