"""Verified downloads into the Keras cache directory.

Files fetched by name (official Enformer weights, track tables) live under
`<KERAS_HOME or ~/.keras>/kipoi_genome/`, the folder Keras itself uses for
`keras.utils.get_file`. A download is streamed to a temporary file in that
folder while its sha256 is computed, checked against the expected length and
checksum, and only then renamed into place, so an interrupted, truncated or
corrupt transfer never leaves a cache entry behind.
"""

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request

from tqdm.auto import tqdm

CACHE_SUBDIR = "kipoi_genome"
DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 20


class DownloadError(ValueError):
    """A failed, truncated or corrupt download, reported on one line."""


def cache_dir(subdir=CACHE_SUBDIR):
    """The kipoi-genome cache folder under the Keras home (`KERAS_HOME` or `~/.keras`).

    Falls back to `/tmp/.keras` when the home folder is not writable, as Keras does.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(home, subdir)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        path = os.path.join(tempfile.gettempdir(), ".keras", subdir)
        os.makedirs(path, exist_ok=True)
    return path


def sha256_file(path):
    """Hex sha256 of a file, read in 1-MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(source):
    """True for `http://`, `https://` and `file://` sources."""
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("http", "https", "file")


def download(url, destination, sha256=None, timeout=DEFAULT_TIMEOUT, progress=True, desc=None):
    """Downloads `url` to `destination` atomically, checking length and checksum.

    Args:
        url: str. `http(s)://` or `file://` URL.
        destination: str. Final path; its folder is created if needed. It is
            written only after the whole file arrived and matched `sha256`.
        sha256: str or None. Expected hex sha256 of the file; None skips the
            check (the caller must then verify the content itself).
        timeout: float. Seconds without data after which the transfer fails.
        progress: bool. Show a tqdm progress bar (bytes).
        desc: str or None. Progress-bar label (default: the file name).

    Returns:
        The hex sha256 of the downloaded file.

    Raises:
        DownloadError: the server could not be reached or answered with an
            error, the transfer stopped early (fewer bytes than its
            Content-Length), or the checksum differs.
    """
    directory = os.path.dirname(os.path.abspath(destination))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(destination) + ".", suffix=".part", dir=directory)
    digest = hashlib.sha256()
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except urllib.error.HTTPError as error:
                raise DownloadError(f"{url}: download failed: HTTP {error.code} {error.reason}") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(f"{url}: download failed: {reason}") from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                bar = tqdm(
                    total=total, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=desc or os.path.basename(destination), disable=not progress,
                )
                with bar:
                    while True:
                        try:
                            chunk = response.read(_CHUNK)
                        except (OSError, ValueError, http.client.HTTPException) as error:  # timeouts, resets, IncompleteRead
                            raise DownloadError(
                                f"{url}: download failed after {received:,} bytes: {error or type(error).__name__}"
                            ) from None
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        if total is not None and received != total:
            raise DownloadError(f"{url}: truncated download: received {received:,} of {total:,} bytes")
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise DownloadError(f"{url}: sha256 mismatch: expected {sha256}. Received: {got}")
        os.replace(tmp, destination)
        return got
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def cached_download(url, fname, sha256, subdir=CACHE_SUBDIR, timeout=DEFAULT_TIMEOUT, progress=True):
    """Path of `fname` in the cache, downloading `url` first if it is absent.

    A cached file is trusted when its name carries the checksum's prefix
    (callers name entries by checksum); it is re-verified only when the
    name does not.

    Args:
        url: str. Where to download from.
        fname: str. File name inside the cache folder.
        sha256: str. Expected hex sha256 (required: the cache is keyed by it).
        subdir: str. Cache sub-folder under the Keras home.
        timeout: float. Download timeout in seconds.
        progress: bool. Show a progress bar.

    Returns:
        The cached file's path.
    """
    if not sha256:
        raise ValueError(f"A cached download needs its sha256. Received: url={url!r}, sha256={sha256!r}")
    path = os.path.join(cache_dir(subdir), fname)
    if os.path.isfile(path) and (sha256[:12] in fname or sha256_file(path) == sha256):
        return path
    download(url, path, sha256=sha256, timeout=timeout, progress=progress, desc=fname)
    return path
