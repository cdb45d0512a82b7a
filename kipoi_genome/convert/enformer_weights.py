"""Official Enformer weights by name: download, verify, convert, cache.

`Enformer.from_preset("enformer")` reaches `load_official_enformer` through
the preset's `weights_loader` string, imported only when weights are asked
for: models must not import convert (this module needs the converter), and
the architecture alone (`load_weights=False`) never touches it.

Source of the weights, in order: the `source=` argument, the
`KIPOI_GENOME_ENFORMER_SOURCE` environment variable, the published TF-Hub /
Kaggle `deepmind/enformer/1` SavedModel archive (`OFFICIAL_URL`). A source
is an http(s)/file URL of an archive (tar, tar.gz, tar.xz; a SavedModel or a
tf.train checkpoint inside), a local archive, a SavedModel directory or a
checkpoint directory / prefix. The expected sha256 comes from `sha256=` or
`KIPOI_GENOME_ENFORMER_SHA256`.

The converted model is cached as `<KERAS_HOME or ~/.keras>/kipoi_genome/
enformer-<key>.keras`, keyed by the archive's expected sha256 (or, without
one, by the URL; for local sources by the file's sha256 or the checkpoint
index's). A download goes to a temporary file in the cache folder, is
checked (length, sha256), extracted to a temporary folder, converted (every
variable of the checkpoint must map onto the model, so a wrong or damaged
archive fails here), and the `.keras` is renamed into place last: a failure
at any step leaves no cache entry.

Checksums of the official model: no source consulted for this project
publishes the sha256 of the archive itself (it is produced by the hosting
service and could not be downloaded here), so `OFFICIAL_SHA256` is None and
`KIPOI_GENOME_ENFORMER_SHA256` can pin one. The files inside it are pinned
instead: `OFFICIAL_FILE_SHA256` holds the sha256 of the SavedModel's
`saved_model.pb` and `variables/variables.{index,data-00000-of-00001}` as
recorded by MultiMolecule (github.com/MultiMolecule/upstream,
models/enformer/source.yaml, commit 0dcc693) for tfhub.dev/deepmind/enformer/1;
a download from `OFFICIAL_URL` must match them after extraction (not checked
here against the real archive, which this project's machines cannot reach).
Every download is also verified structurally (complete transfer, valid
archive, an Enformer checkpoint whose every variable converts).
"""

import hashlib
import json
import os
import sys
import tarfile
import tempfile
import zipfile
import zlib

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.convert.enformer_checkpoint import convert_enformer_checkpoint, resolve_checkpoint_prefix
from kipoi_genome.download import DEFAULT_TIMEOUT, DownloadError, cache_dir, download, is_url, sha256_file

# tfhub.dev/deepmind/enformer/1 now redirects to this Kaggle Models archive (ENFORMER.md sec. 9).
OFFICIAL_URL = "https://www.kaggle.com/api/v1/models/deepmind/enformer/tensorFlow2/enformer/1/download"
OFFICIAL_SHA256 = None  # unknown: not published anywhere we could find (module docstring)
# sha256 of the extracted SavedModel files, relative to its root (module docstring).
OFFICIAL_FILE_SHA256 = {
    "saved_model.pb": "c8f0af88f3626e7823f2b8fb2b8b7b07d6f337ae0aadc5f70c5671d263c695d6",
    "variables/variables.index": "7a30693fac902bd23140e962368a80577ed4a05e62c7602b25a820be32d53f91",
    "variables/variables.data-00000-of-00001": "6a64f5fdb08b79efc5f18a1d18a804486390d5649046c8b63ac7bb6794cfc461",
}
SOURCE_ENV = "KIPOI_GENOME_ENFORMER_SOURCE"
SHA256_ENV = "KIPOI_GENOME_ENFORMER_SHA256"


def _find_checkpoint(folder, source):
    """The checkpoint prefix inside an extracted archive (SavedModel or checkpoint)."""
    indexes = []
    for root, _, files in os.walk(folder):
        indexes += [os.path.join(root, f) for f in files if f.endswith(".index")]
    if len(indexes) != 1:
        found = ", ".join(os.path.relpath(p, folder) for p in indexes) or "none"
        raise ValueError(
            f"{source}: expected one TF-Hub SavedModel or tf.train checkpoint in the archive "
            f"(one *.index file); found {found}"
        )
    return indexes[0][: -len(".index")]


def verify_files(root, expected, source):
    """Checks the sha256 of files under `root` (`expected`: relative path -> hex sha256).

    Raises:
        DownloadError: a file is missing or differs, naming the first one.
    """
    for relative, sha256 in expected.items():
        path = os.path.join(root, relative)
        if not os.path.isfile(path):
            raise DownloadError(f"{source}: {relative} missing from the archive")
        got = sha256_file(path)
        if got != sha256:
            raise DownloadError(f"{source}: {relative} sha256 mismatch: expected {sha256}. Received: {got}")


def _extract(archive, folder, source):
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(folder)
        else:
            with tarfile.open(archive, "r:*") as handle:
                handle.extractall(folder, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DownloadError(f"{source}: corrupt or incomplete archive ({message})") from None


def _convert_to_cache(prefix, target, source, progress):
    if progress:
        print(f"converting Enformer weights from {source} (once; cached at {target})", file=sys.stderr)
    import tensorflow as tf

    try:
        model = convert_enformer_checkpoint(prefix)
    except tf.errors.OpError as error:  # damaged tensor data (TensorBundle checksums)
        first = str(error.message).splitlines()[0]
        raise DownloadError(f"{source}: corrupt checkpoint data ({first})") from None
    with atomic_output(target, suffix=".keras") as tmp:
        model.save(tmp)
    return target


def official_enformer_file(source=None, sha256=None, progress=True, timeout=DEFAULT_TIMEOUT):
    """Path of the cached `.keras` conversion of the official Enformer.

    Args:
        source: URL, archive, SavedModel directory or checkpoint; None uses
            `$KIPOI_GENOME_ENFORMER_SOURCE`, else `OFFICIAL_URL`.
        sha256: expected hex sha256 of a downloaded or local archive; None
            uses `$KIPOI_GENOME_ENFORMER_SHA256`, else `OFFICIAL_SHA256` for
            the official URL (unknown: structural verification only).
        progress: bool. Download progress bar and a conversion notice on stderr.
        timeout: float. Download timeout in seconds.

    Returns:
        str, the cached `.keras` file.

    Raises:
        DownloadError: unreachable source, truncated transfer, checksum
            mismatch or corrupt archive (nothing is cached).
        ValueError: the archive holds no convertible Enformer checkpoint.
        FileNotFoundError: a local source that does not exist.
    """
    source = os.fspath(source) if source is not None else os.environ.get(SOURCE_ENV) or OFFICIAL_URL
    sha256 = sha256 or os.environ.get(SHA256_ENV) or (OFFICIAL_SHA256 if source == OFFICIAL_URL else None)
    sha256 = sha256.lower() if sha256 else None
    cache = cache_dir()
    if is_url(source):
        official = source == OFFICIAL_URL
        if sha256:
            key = sha256
        elif official:  # the model's own content, whatever archive wraps it
            key = OFFICIAL_FILE_SHA256["variables/variables.data-00000-of-00001"]
        else:
            key = hashlib.sha256(source.encode()).hexdigest()
        target = os.path.join(cache, f"enformer-{key[:16]}.keras")
        if os.path.isfile(target):
            return target
        with tempfile.TemporaryDirectory(prefix=".enformer-", dir=cache) as work:
            archive = os.path.join(work, "archive")
            download(source, archive, sha256=sha256, timeout=timeout, progress=progress, desc="Enformer weights")
            _extract(archive, os.path.join(work, "extracted"), source)
            os.remove(archive)
            prefix = _find_checkpoint(os.path.join(work, "extracted"), source)
            if official:  # prefix = <SavedModel root>/variables/variables
                verify_files(os.path.dirname(os.path.dirname(prefix)), OFFICIAL_FILE_SHA256, source)
            return _convert_to_cache(prefix, target, source, progress)
    if os.path.isdir(source) or os.path.exists(source + ".index"):
        prefix = resolve_checkpoint_prefix(source)
        target = os.path.join(cache, f"enformer-{sha256_file(prefix + '.index')[:16]}.keras")
        return target if os.path.isfile(target) else _convert_to_cache(prefix, target, source, progress)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: Enformer weights source not found (a URL, archive, SavedModel or checkpoint)")
    digest = sha256_file(source)
    if sha256 is not None and digest != sha256:
        raise DownloadError(f"{source}: sha256 mismatch: expected {sha256}. Received: {digest}")
    target = os.path.join(cache, f"enformer-{digest[:16]}.keras")
    if os.path.isfile(target):
        return target
    with tempfile.TemporaryDirectory(prefix=".enformer-", dir=cache) as work:
        _extract(source, work, source)
        return _convert_to_cache(_find_checkpoint(work, source), target, source, progress)


def keras_file_config(path):
    """Constructor config stored in a `.keras` file (its `config.json`)."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))["config"]


def load_official_enformer(cls, preset, overrides, source=None, sha256=None, progress=True):
    """`Enformer` with the official weights; the preset's `weights_loader`.

    The architecture is the converted checkpoint's (the published model for
    the official archive), built under the current dtype policy, with
    `overrides` applied (e.g. `inference_chunk_length`).

    Args:
        cls: the model class (`Enformer`).
        preset: the `Preset` (unused beyond its name; the weights define the shape).
        overrides: dict of constructor arguments.
        source, sha256, progress: as in `official_enformer_file`.
    """
    path = official_enformer_file(source=source, sha256=sha256, progress=progress)
    config = {k: v for k, v in keras_file_config(path).items() if k not in ("name", "trainable")}
    model = cls(**{**config, **overrides})
    model.load_weights(path)
    return model
