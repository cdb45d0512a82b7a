"""Loading a model: a preset name or a `.keras` file, in a chosen precision.

`load_model` is what every command and the export targets use;
`load_keras_file` reads a `.keras` file with one-line errors that name it.
"""

import logging
import os
import zipfile
import zlib

import keras

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.models import presets
from kipoi_genome.models.precision import dtype_policy, with_precision

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


def load_model(name_or_path, precision="float32", jit_compile=False, load_weights=True, progress=True):
    """A preset name or a `.keras` file -> a Keras model.

    A preset without trained weights (e.g. `enformer_tiny`), or any preset
    with `load_weights=False`, logs one warning line (logger `kipoi_genome`,
    stderr by default): its predictions mean nothing.

    Args:
        name_or_path: preset name (see `kipoi-genome info`) or `.keras` file.
            `"enformer"` is the official model, downloaded and converted on
            first use (`kipoi_genome.convert.enformer_weights`).
        precision: `"float32"` (default) or `"bfloat16"` (bfloat16 weights
            and math, float32 Enformer heads; see `models.precision`).
        jit_compile: bool. Run `predict` / `predict_on_batch` XLA-compiled.
            On CPU this made the full float32 Enformer 4-10 % faster but
            raised its peak memory by 1.8 GB (XLA does not keep the chunked
            trunk's one-window-at-a-time order) and was slower in bfloat16,
            so it is off by default (docs/benchmarks.md).
        load_weights: bool. False builds a preset's architecture with
            random weights (benchmarks; no download).
        progress: bool. Progress bar while downloading a preset's weights.
    """
    if not isinstance(jit_compile, bool):
        raise ValueError(f"`jit_compile` must be True or False. Received: jit_compile={jit_compile!r}")
    if os.fspath(name_or_path).endswith(".keras"):
        model = with_precision(load_keras_file(name_or_path), precision)
    else:
        preset = presets.get_preset(name_or_path)
        model_cls = keras.saving.get_registered_object(f"kipoi_genome>{preset.class_name}")
        with dtype_policy(precision):
            fetched = {"progress": progress} if preset.weights_loader else {}
            model = model_cls.from_preset(preset.name, load_weights=load_weights, **fetched)
        if not (load_weights and preset.trained):
            logging.getLogger("kipoi_genome").warning(
                f"warning: model {preset.name!r} has untrained (random) weights: its predictions are meaningless"
            )
    if jit_compile:
        model.compile(jit_compile=True)
    return model
