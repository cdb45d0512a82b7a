"""Loading `.keras` files with one-line errors that name the file."""

import os
import zipfile
import zlib

import keras

from kipoi_genome.data.errors import InputFileError

# What a damaged archive raises while Keras reads it: a bad CRC or header
# (zipfile), a short member (EOFError, zlib), an unreadable HDF5 weights file
# (h5py raises OSError).
_CORRUPT = (zipfile.BadZipFile, EOFError, zlib.error, OSError)
# What a readable archive with content this package cannot build raises.
_UNLOADABLE = (ValueError, KeyError, TypeError)


def _detail(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def load_keras_file(path, **kwargs):
    """`keras.saving.load_model(path, **kwargs)` with errors that say what is wrong.

    Keras reports any file that is not a complete zip archive (a truncated
    download, a partial copy) as "File not found"; here it is reported as
    truncated or corrupt.

    Args:
        path: str or os.PathLike. A `.keras` file.
        **kwargs: passed to `keras.saving.load_model` (e.g. `compile=False`).

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist.
        InputFileError: the file is truncated or corrupt, or holds a model
            that cannot be built (``PATH: problem``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise InputFileError(
            path, None, "truncated or corrupt .keras file (not a complete zip archive)"
        )
    try:
        return keras.saving.load_model(path, **kwargs)
    except _CORRUPT as error:
        raise InputFileError(path, None, f"truncated or corrupt .keras file ({_detail(error)})") from None
    except _UNLOADABLE as error:
        raise InputFileError(
            path, None, f"cannot load the model in this .keras file ({_detail(error)})"
        ) from None
